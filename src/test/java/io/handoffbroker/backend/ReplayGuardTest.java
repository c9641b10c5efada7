package io.handoffbroker.backend;

import static org.assertj.core.api.Assertions.assertThat;

import io.handoffbroker.wire.HandoffToken;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** The backend's memory of consumed tokens: a replay is refused, and the memory is bounded by count and age. */
class ReplayGuardTest {

    private static final long RETENTION = 1_000;

    private static HandoffToken token(int n) {
        byte[] bytes = new byte[HandoffToken.LENGTH];
        Arrays.fill(bytes, (byte) n);
        return HandoffToken.of(bytes);
    }

    @Test
    void aTokenConsumedBeforeIsARefusedReplayForAsLongAsItIsRemembered() {
        ReplayGuard guard = new ReplayGuard(8, RETENTION);

        assertThat(guard.consume(token(1), 0)).isTrue();
        assertThat(guard.consume(token(2), 10)).as("another token").isTrue();
        assertThat(guard.consume(token(1), 20)).as("replayed at once").isFalse();
        assertThat(guard.consume(token(1), RETENTION - 1)).as("replayed just before it is forgotten").isFalse();
    }

    @Test
    void aTokenIsForgottenOnceItsRetentionHasPassed() {
        ReplayGuard guard = new ReplayGuard(8, RETENTION);
        guard.consume(token(1), 0);
        guard.consume(token(2), RETENTION / 2);

        assertThat(guard.consume(token(1), RETENTION)).as("as old as the retention").isTrue();
        assertThat(guard.consume(token(2), RETENTION)).as("younger, still remembered").isFalse();
    }

    @Test
    void theOldestTokenIsForgottenWhenTheGuardIsFull() {
        ReplayGuard guard = new ReplayGuard(3, RETENTION);
        for (int n = 1; n <= 3; n++) {
            assertThat(guard.consume(token(n), n)).isTrue();
        }

        assertThat(guard.consume(token(4), 4)).as("a fourth, in the place of the first").isTrue();
        assertThat(guard.consume(token(2), 5)).as("the second, still remembered").isFalse();
        assertThat(guard.consume(token(1), 6)).as("the first, forgotten to make room").isTrue();
    }
}
