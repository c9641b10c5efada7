package io.handoffbroker.handoff;

import io.handoffbroker.unix.PeerUidNotAllowedException;
import org.jspecify.annotations.Nullable;

/** The protocol's fallback reasons, as they appear in logs and metric labels. */
public final class FallbackReason {

    public static final String CLIENT_UNSUPPORTED = "client_unsupported";
    public static final String SERVICE_POLICY_DISABLED = "service_policy_disabled";
    public static final String FD_PRESSURE = "fd_pressure";
    public static final String RATE_LIMITED = "rate_limited";
    public static final String PERMISSION_DENIED = "permission_denied";
    public static final String BACKEND_UNAVAILABLE = "backend_unavailable";
    public static final String BACKEND_ACK_TIMEOUT = "backend_ack_timeout";
    public static final String BACKEND_REFUSED = "backend_refused";
    public static final String ACK_MISMATCH = "ack_mismatch";

    /** Every reason, so counters can be registered at zero before the first event. */
    public static final java.util.List<String> ALL = java.util.List.of(CLIENT_UNSUPPORTED, SERVICE_POLICY_DISABLED,
            FD_PRESSURE, RATE_LIMITED, PERMISSION_DENIED, BACKEND_UNAVAILABLE, BACKEND_ACK_TIMEOUT, BACKEND_REFUSED,
            ACK_MISMATCH);

    private FallbackReason() {
    }

    /**
     * Why the handoff endpoint could not be dialled or sent to: {@link #PERMISSION_DENIED}
     * when the system refused for lack of permission ({@code EACCES} or {@code EPERM}, which
     * the socket library reports only as the system's message), or when the broker refused the
     * listener it reached, since it runs as a uid the service's {@code handoff-endpoint-uids}
     * does not name ({@link PeerUidNotAllowedException}); otherwise {@link #BACKEND_UNAVAILABLE}.
     */
    public static String unreachable(@Nullable String failure) {
        return failure != null && (failure.contains("Permission denied") || failure.contains("Operation not permitted")
                || failure.contains(PeerUidNotAllowedException.NOT_ALLOWED)) ? PERMISSION_DENIED : BACKEND_UNAVAILABLE;
    }
}
