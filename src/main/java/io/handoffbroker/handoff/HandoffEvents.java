package io.handoffbroker.handoff;

import io.handoffbroker.negotiation.ServiceBackend;

/**
 * What the orchestrator reports, for metrics and logs. Called from the event loop,
 * delivery threads and the late-ACK watcher: implementations must be thread-safe,
 * quick and must not throw.
 */
public interface HandoffEvents {

    /** The client's connection now belongs to the backend. */
    default void handedOff(ServiceBackend backend, long connectionId, long durationNanos) {
    }

    /** The client takes (or was told to take) the reconnect route; {@code reason} is a protocol fallback reason. */
    default void fellBack(ServiceBackend backend, long connectionId, String reason, String detail) {
    }

    /** The ACK stage of a handoff ended; exactly once per handoff that reached it. */
    default void ackResult(ServiceBackend backend, long connectionId, AckResult result) {
    }

    /**
     * A control connection dialled to the backend's handoff endpoint was closed unused: the
     * process listening there runs as {@code peerUid}, which the backend's handoff endpoint uids
     * do not name. Once per such dial (a handoff's, a pre-dial or the pool's refill), never per
     * handoff; nothing was sent on it.
     */
    default void handoffEndpointRejected(ServiceBackend backend, long peerUid, long peerPid) {
    }

    /** Stand-in that ignores everything. */
    HandoffEvents NONE = new HandoffEvents() {
    };
}
