/**
 * Backend SDK: what a Java backend embeds to serve clients of the broker. A
 * {@link io.handoffbroker.backend.BackendServer} listens at the backend's own
 * endpoint ({@code backend_pipe}) for clients that reconnect, and hands every
 * connection to one {@link io.handoffbroker.backend.ConnectionHandler}. A
 * {@link io.handoffbroker.backend.StreamHandler} gets handed-off connections as
 * file streams on their descriptor, without a junixsocket socket object.
 *
 * <p>The client speaks first, and that is a rule for handlers: a handler must not write
 * before it has read the client's first bytes, since on a handed-off connection the broker's
 * relay must be the first frame the client reads, and bytes written first can overtake it
 * (the client then falls back and reconnects, and the handler runs twice). A service whose
 * protocol is server-first must not take handoffs: no handoff endpoint, or
 * {@code handoff-enabled: false} for the service in the broker's configuration.
 *
 * <p>An endpoint's directory is held to the broker's rule for its own socket
 * ({@code SocketFile}): created {@code 0700} when missing, refused when another user could
 * change it, since whoever can could put a listener in the backend's place.
 *
 * <p>Descriptor ownership: the server owns each accepted connection and closes it
 * when the handler returns or throws; the handler must not keep it. A handed-off
 * descriptor is the server's from the moment it is received, before the ACK, until
 * its handler returns, or, if it is never served, until it is closed (before the ACK
 * when the offer is refused); one served as streams is made blocking first. Depends on
 * the wire and unix packages only, never on Spring or the broker.
 */
@NullMarked
package io.handoffbroker.backend;

import org.jspecify.annotations.NullMarked;
