// Socket ids (Socket.IO's `socket.id`): `<connection id>-<n>`, the broker's
// connection id (a ULID, unique across a cluster) and the count of
// namespaces that connection has connected so far, in base 36. Any broker
// can tell a socket id from a room name by its shape alone, so `to(id)`,
// `except(id)` and an emitter's `skip_sid` reach or leave out that socket
// through its own topic (`$sid.<id>`, rooms.ts) wherever it is connected,
// and the id names the connection (`/stats`, logs) it lives on.

/** The broker's connection ids: 26 characters of Crockford's base32 (event-id.ts). */
const SOCKET_ID = /^[0-9A-HJKMNP-TV-Z]{26}-[0-9a-z]{1,8}$/;

/** The id of the `count`-th namespace socket of connection `connectionId`. */
export function socketIdOf(connectionId: string, count: number): string {
  return `${connectionId}-${count.toString(36)}`;
}

/** Whether `room` is a socket id (that socket's own room) rather than a room name. */
export function isSocketId(room: string): boolean {
  return SOCKET_ID.test(room);
}
