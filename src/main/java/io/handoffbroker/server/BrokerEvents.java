package io.handoffbroker.server;

import io.handoffbroker.negotiation.HelloDecision;
import io.handoffbroker.negotiation.PeerIdentity;

/**
 * What the listener reports as it works, for metrics and logs. Called on the
 * event loop: implementations must be quick and must not block or throw.
 */
public interface BrokerEvents {

    /** A client connection was accepted and admitted. */
    default void connectionOpened(ClientConnection connection) {
    }

    /** A client connection the broker owned was closed, or its copy released after a handoff. */
    default void connectionClosed(ClientConnection connection, String reason) {
    }

    /** A peer the policy does not admit was closed without a reply. */
    default void peerRejected(PeerIdentity peer) {
    }

    /** A Hello was answered, from accept to the reply's last byte handed to the kernel. */
    default void helloAnswered(ClientConnection connection, HelloDecision decision, long durationNanos) {
    }

    /**
     * A Hello was decided but its reply never fully reached the client: it closed first, or did
     * not read the reply before the first-frame deadline. What the decision took (a place in the
     * peer's rate-limit window) is spent all the same.
     *
     * @param reason why the connection was closed with its reply unwritten
     */
    default void helloUndelivered(ClientConnection connection, HelloDecision decision, String reason) {
    }

    /** No complete Hello arrived before the first-frame deadline. */
    default void helloTimedOut(ClientConnection connection) {
    }

    /** Stand-in that ignores everything, so callers never check for null. */
    BrokerEvents NONE = new BrokerEvents() {
    };
}
