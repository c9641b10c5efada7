package io.handoffbroker.handoff;

import static org.assertj.core.api.Assertions.assertThat;

import io.handoffbroker.unix.PeerUidNotAllowedException;
import org.junit.jupiter.api.Test;

class FallbackReasonTest {

    @Test
    void aPermissionRefusalIsPermissionDeniedAndEveryOtherFailureAnUnavailableBackend() {
        // The messages junixsocket gives a refused connect or send: the system's own (strerror).
        assertThat(FallbackReason.unreachable("Permission denied")).isEqualTo(FallbackReason.PERMISSION_DENIED);
        assertThat(FallbackReason.unreachable("descriptor could not be sent: Operation not permitted"))
                .isEqualTo(FallbackReason.PERMISSION_DENIED);
        // A listener the broker refused for the uid it runs as (the prober's text of it included).
        assertThat(FallbackReason.unreachable("PeerUidNotAllowedException: the listener at /run/h.sock "
                + PeerUidNotAllowedException.NOT_ALLOWED + ": uid 1001 (pid 77), allowed [1000]"))
                .isEqualTo(FallbackReason.PERMISSION_DENIED);
        assertThat(FallbackReason.unreachable("Connection refused")).isEqualTo(FallbackReason.BACKEND_UNAVAILABLE);
        assertThat(FallbackReason.unreachable("No such file or directory"))
                .isEqualTo(FallbackReason.BACKEND_UNAVAILABLE);
        assertThat(FallbackReason.unreachable(null)).isEqualTo(FallbackReason.BACKEND_UNAVAILABLE);
    }
}
