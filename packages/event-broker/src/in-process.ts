// The door an in-process pipe (the test kit's, `@eventwire/event-broker/testing`)
// uses into a broker: an upgrade carried without a socket, admitted exactly
// as one on the listening port. A symbol, so it is no part of what the
// broker's users see and call.
export const inProcessUpgrade: unique symbol = Symbol('eventwire.inProcessUpgrade');
