package io.handoffbroker.handoff;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.handoffbroker.handoff.PendingHandoffs.Consumption;
import io.handoffbroker.wire.HandoffToken;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.junit.jupiter.api.Test;

/** The pending token set, with time passed in: nothing here sleeps. */
class PendingHandoffsTest {

    private static final long MS = 1_000_000L;
    private static final long T0 = 1_000_000 * MS; // an arbitrary nanoTime origin
    private static final long DEADLINE = 300 * MS;
    private static final long TTL = 30_000 * MS;

    private final PendingHandoffs pending = new PendingHandoffs(new SecureRandom(), 4, TTL);

    private HandoffToken issue(long id, long now) {
        return pending.issue(id, now + DEADLINE, now).orElseThrow();
    }

    @Test
    void aTimelyMatchingAckConsumesTheTokenExactlyOnce() {
        HandoffToken token = issue(1, T0);
        assertThat(pending.size()).isEqualTo(1);

        assertThat(pending.consume(1, token.toByteArray(), T0 + 10 * MS)).isEqualTo(Consumption.CONSUMED);
        assertThat(pending.size()).isZero();
        assertThat(pending.consume(1, token.toByteArray(), T0 + 11 * MS)).isEqualTo(Consumption.UNKNOWN);
    }

    @Test
    void anAckExactlyAtTheDeadlineIsTimelyOneNanosecondLaterIsLateAndLeavesNothingPending() {
        HandoffToken onTime = issue(1, T0);
        HandoffToken late = issue(2, T0);

        assertThat(pending.consume(1, onTime.toByteArray(), T0 + DEADLINE)).isEqualTo(Consumption.CONSUMED);
        assertThat(pending.consume(2, late.toByteArray(), T0 + DEADLINE + 1)).isEqualTo(Consumption.LATE);
        assertThat(pending.size()).isZero();
        assertThat(pending.consume(2, late.toByteArray(), T0 + DEADLINE + 2)).isEqualTo(Consumption.UNKNOWN);
    }

    @Test
    void anAckAfterTheTtlIsLateEvenIfTheDeadlineWasLonger() {
        HandoffToken token = pending.issue(1, T0 + 2 * TTL, T0).orElseThrow();
        assertThat(pending.consume(1, token.toByteArray(), T0 + TTL)).isEqualTo(Consumption.LATE);
    }

    @Test
    void aMismatchingTokenLeavesTheHandoffPendingForTheRightOne() {
        HandoffToken token = issue(1, T0);
        byte[] wrong = token.toByteArray();
        wrong[0] ^= 1;

        assertThat(pending.consume(1, wrong, T0 + MS)).isEqualTo(Consumption.MISMATCH);
        assertThat(pending.consume(1, Arrays.copyOf(token.toByteArray(), 15), T0 + MS))
                .isEqualTo(Consumption.MISMATCH);
        assertThat(pending.size()).isEqualTo(1);
        assertThat(pending.consume(1, token.toByteArray(), T0 + 2 * MS)).isEqualTo(Consumption.CONSUMED);
    }

    @Test
    void anotherConnectionsTokenDoesNotConsumeThisOne() {
        HandoffToken first = issue(1, T0);
        issue(2, T0);
        assertThat(pending.consume(2, first.toByteArray(), T0 + MS)).isEqualTo(Consumption.MISMATCH);
        assertThat(pending.consume(3, first.toByteArray(), T0 + MS)).isEqualTo(Consumption.UNKNOWN);
        assertThat(pending.size()).isEqualTo(2);
    }

    @Test
    void revokeIsIdempotentAndARevokedTokenIsNeverConsumed() {
        HandoffToken token = issue(1, T0);
        issue(2, T0);

        pending.revoke(1);
        pending.revoke(1);
        pending.revoke(99);
        assertThat(pending.size()).isEqualTo(1);
        assertThat(pending.consume(1, token.toByteArray(), T0 + MS)).isEqualTo(Consumption.UNKNOWN);
    }

    @Test
    void theSetIsBoundedUntilExpiredTokensAreSwept() {
        for (long id = 1; id <= 4; id++) {
            issue(id, T0);
        }
        assertThat(pending.issue(5, T0 + DEADLINE, T0 + MS)).as("full").isEmpty();
        assertThat(pending.size()).isEqualTo(4);

        // Just before the TTL nothing may be swept; at the TTL everything is.
        assertThat(pending.sweepExpired(T0 + TTL - 1)).isZero();
        assertThat(pending.issue(5, T0 + TTL - 1 + DEADLINE, T0 + TTL - 1)).isEmpty();
        assertThat(pending.sweepExpired(T0 + TTL)).isEqualTo(4);
        assertThat(pending.size()).isZero();
    }

    @Test
    void issuingIntoAFullSetSweepsExpiredTokensFirst() {
        for (long id = 1; id <= 4; id++) {
            issue(id, T0 + id * MS);
        }
        // Past the TTL of the first token only.
        long now = T0 + MS + TTL;
        assertThat(pending.issue(5, now + DEADLINE, now)).isPresent();
        assertThat(pending.size()).isEqualTo(4);
        assertThat(pending.issue(6, now + DEADLINE, now)).isEmpty();
    }

    @Test
    void aSecondPendingHandoffForTheSameConnectionIsRefusedWithoutLeakingASlot() {
        issue(1, T0);
        assertThatThrownBy(() -> issue(1, T0)).isInstanceOf(IllegalStateException.class);
        assertThat(pending.size()).isEqualTo(1);
    }

    @Test
    void tokensAreSixteenFreshBytesAndNeverRendered() {
        Set<String> seen = new HashSet<>();
        for (long id = 1; id <= 4; id++) {
            HandoffToken token = issue(id, T0);
            assertThat(token.toByteArray()).hasSize(16);
            assertThat(seen.add(Arrays.toString(token.toByteArray()))).isTrue();
            assertThat(token.toString()).doesNotContain(Arrays.toString(token.toByteArray()))
                    .contains("redacted");
        }
    }

    @Test
    void sizeStaysExactUnderConcurrentIssueConsumeAndRevoke() throws Exception {
        PendingHandoffs shared = new PendingHandoffs(new SecureRandom(), 10_000, TTL);
        Thread[] threads = new Thread[8];
        // A thread that dies early can leave the size exact all the same: its failure must show.
        Queue<Throwable> failures = new ConcurrentLinkedQueue<>();
        for (int t = 0; t < threads.length; t++) {
            int base = t * 1_000;
            threads[t] = Thread.ofPlatform().uncaughtExceptionHandler((thread, e) -> failures.add(e)).start(() -> {
                for (int i = 0; i < 500; i++) {
                    long id = base + i;
                    HandoffToken token = shared.issue(id, T0 + DEADLINE, T0).orElseThrow();
                    if (i % 2 == 0) {
                        shared.consume(id, token.toByteArray(), T0);
                    } else {
                        shared.revoke(id);
                        shared.revoke(id);
                    }
                }
            });
        }
        for (Thread t : threads) {
            t.join(10_000);
        }
        assertThat(failures).as("failures on the worker threads").isEmpty();
        assertThat(shared.size()).isZero();
    }

    @Test
    void constructionRejectsNonsense() {
        assertThatThrownBy(() -> new PendingHandoffs(new SecureRandom(), 0, TTL))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new PendingHandoffs(new SecureRandom(), 1, 0))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
