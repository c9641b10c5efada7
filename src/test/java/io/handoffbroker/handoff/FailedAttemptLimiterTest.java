package io.handoffbroker.handoff;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** The sliding window of failed handoffs per backend, with time passed in. */
class FailedAttemptLimiterTest {

    private static final long S = 1_000_000_000L;
    private static final long T0 = 5_000 * S;
    private static final long WINDOW = 60 * S;

    private final FailedAttemptLimiter limiter = new FailedAttemptLimiter(3, WINDOW);

    @Test
    void aBackendIsTriedUntilItReachesTheLimitWithinTheWindow() {
        assertThat(limiter.allows("a@1.0.0", T0)).isTrue();
        limiter.recordFailure("a@1.0.0", T0);
        limiter.recordFailure("a@1.0.0", T0 + S);
        assertThat(limiter.allows("a@1.0.0", T0 + 2 * S)).isTrue();
        limiter.recordFailure("a@1.0.0", T0 + 2 * S);
        assertThat(limiter.allows("a@1.0.0", T0 + 3 * S)).isFalse();
        assertThat(limiter.recentFailures("a@1.0.0", T0 + 3 * S)).isEqualTo(3);
    }

    @Test
    void theOldestFailureLeavesTheWindowExactlyOneWindowLater() {
        limiter.recordFailure("a@1.0.0", T0);
        limiter.recordFailure("a@1.0.0", T0 + S);
        limiter.recordFailure("a@1.0.0", T0 + 2 * S);

        assertThat(limiter.allows("a@1.0.0", T0 + WINDOW - 1)).isFalse();
        assertThat(limiter.allows("a@1.0.0", T0 + WINDOW)).isTrue();
        assertThat(limiter.recentFailures("a@1.0.0", T0 + WINDOW)).isEqualTo(2);
        assertThat(limiter.recentFailures("a@1.0.0", T0 + 2 * S + WINDOW)).isZero();
    }

    @Test
    void backendsAreCountedSeparately() {
        for (int i = 0; i < 3; i++) {
            limiter.recordFailure("a@1.0.0", T0 + i);
        }
        assertThat(limiter.allows("a@1.0.0", T0 + 3)).isFalse();
        assertThat(limiter.allows("a@2.0.0", T0 + 3)).isTrue();
        assertThat(limiter.recentFailures("never-failed@1.0.0", T0)).isZero();
    }

    @Test
    void failuresKeepCountingWhileTheBackendIsSkipped() {
        for (int i = 0; i < 5; i++) {
            limiter.recordFailure("a@1.0.0", T0 + i * S);
        }
        // The first two leave the window; three remain: still at the limit.
        assertThat(limiter.allows("a@1.0.0", T0 + S + WINDOW)).isFalse();
        assertThat(limiter.allows("a@1.0.0", T0 + 2 * S + WINDOW)).isTrue();
    }

    @Test
    void timeNearTheNanoTimeWrapIsHandled() {
        long nearWrap = Long.MAX_VALUE - S;
        limiter.recordFailure("a@1.0.0", nearWrap);
        limiter.recordFailure("a@1.0.0", nearWrap + S / 2);
        limiter.recordFailure("a@1.0.0", nearWrap + S); // Long.MAX_VALUE
        assertThat(limiter.allows("a@1.0.0", nearWrap + 2 * S)).as("after the wrap, inside the window").isFalse();
        assertThat(limiter.allows("a@1.0.0", nearWrap + S + WINDOW)).isTrue();
    }

    @Test
    void aLimitBelowOneIsRejected() {
        assertThatThrownBy(() -> new FailedAttemptLimiter(0, WINDOW)).isInstanceOf(IllegalArgumentException.class);
    }
}
