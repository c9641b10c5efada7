package io.handoffbroker.server;

import io.handoffbroker.negotiation.HelloDecision;

/**
 * Decides what happens to a client connection whose Hello was negotiated:
 * answer {@code Negotiated} and close (the reconnect route), or more (a handoff).
 * Called on the event loop; it must not block. To do blocking work it
 * {@linkplain ClientConnection#detach() detaches} the connection and continues
 * on its own threads.
 */
@FunctionalInterface
public interface ConnectionRouter {

    void route(ClientConnection connection, HelloDecision.Negotiate decision);
}
