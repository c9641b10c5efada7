/**
 * The client-facing listener: binds the broker's socket file, accepts client
 * connections on one event-loop thread (waiting on epoll, or junixsocket's selector
 * where epoll cannot be used), checks each peer's kernel credentials,
 * reads exactly one Hello per connection under the first-frame deadline,
 * answers it, and drains on shutdown. Two threads of its own watch from outside the
 * loop: the backend prober (each backend's endpoints, every probe interval) and the
 * socket-file watch (once a second, that the socket path still names the listener's
 * socket, and reports when it stops, or starts again, to do so).
 *
 * <p>Descriptor ownership: the event loop owns every client connection from
 * accept until it either closes it (refusals, reconnect route, timeouts, peer
 * rejections) or {@linkplain io.handoffbroker.server.ClientConnection#detach()
 * detaches} it for a handoff, after which the detaching party owns it and must
 * close it through the connection so the connection budget is released exactly
 * once. The loop never blocks: every read and write is non-blocking and every
 * wait is bounded by a deadline the loop itself enforces.
 *
 * <p>It must not know how a handoff is done (that is behind
 * {@link io.handoffbroker.server.ConnectionRouter}) nor depend on Spring; the
 * configuration package wires it into the application's lifecycle.
 */
@NullMarked
package io.handoffbroker.server;

import org.jspecify.annotations.NullMarked;
