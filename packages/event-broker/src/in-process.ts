// The door an in-process pipe (the test kit's, `@eventwire/event-broker/testing`)
// uses into a broker: an upgrade carried without a socket, admitted exactly
// as one on the listening port. A symbol, so it is no part of what the
// broker's users see and call.
export const inProcessUpgrade: unique symbol = Symbol('eventwire.inProcessUpgrade');

/** The broker's work in flight for its clients (authentications, channel rules, asynchronous hooks, observers): a hub is not settled while it runs. */
export const inProcessPending: unique symbol = Symbol('eventwire.inProcessPending');
