package io.handoffbroker.handoff;

import io.handoffbroker.negotiation.ServiceBackend;
import org.jspecify.annotations.Nullable;

/** What the last probe of a service's handoff endpoint said, for the eligibility check. */
@FunctionalInterface
public interface HandoffEndpointProbe {

    /** Every endpoint taken as up: nothing speaks against trying. */
    HandoffEndpointProbe ALWAYS_UP = backend -> null;

    /**
     * Null when the endpoint answered its last probe (or was not probed yet); otherwise why
     * not, with the system's message, so that a permission refusal can be told apart.
     */
    @Nullable String failure(ServiceBackend backend);
}
