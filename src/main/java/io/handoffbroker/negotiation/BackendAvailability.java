package io.handoffbroker.negotiation;

/**
 * What negotiation needs to know about a backend's liveness. The server's
 * background prober implements it; negotiation never probes on the Hello path.
 */
@FunctionalInterface
public interface BackendAvailability {

    /** True when the backend's endpoint answered its last probe. */
    boolean isReachable(ServiceBackend backend);

    /** For tests and tools that have no prober: every backend is reachable. */
    BackendAvailability ALWAYS = backend -> true;
}
