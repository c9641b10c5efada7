package io.handoffbroker.handoff;

import static org.assertj.core.api.Assertions.assertThat;

import io.handoffbroker.client.Route;
import io.handoffbroker.client.ServiceConnection;
import io.handoffbroker.testing.HandoffFixture;
import io.handoffbroker.testing.RecordingHandoffEvents;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A bug in a step of a detached handoff (an unexpected runtime exception) ends that
 * handoff like an ambiguous failure, and leaves nothing behind: no pending token, no
 * client connection, and no control connection holding its pool slot.
 */
class HandoffInternalErrorTest {

    private static final Duration WAIT = Duration.ofSeconds(5);

    @TempDir
    Path dir;

    @Test
    void aBugWhileAControlConnectionIsHeldDiscardsItSoTheNextHandoffGetsTheSlot() throws Exception {
        // The delivery reads its clock when it judges the ACK, with the control connection borrowed.
        AtomicBoolean bugPending = new AtomicBoolean(true);
        WireHandoffDelivery buggy = new WireHandoffDelivery(() -> {
            if (bugPending.getAndSet(false)) {
                throw new IllegalStateException("injected bug");
            }
            return System.nanoTime();
        });
        // One control connection at most: had the bug kept it, the next handoff would wait out the
        // borrow timeout and fall back.
        PoolSettings oneConnection = new PoolSettings(1, 0, Duration.ofMillis(500), Duration.ofSeconds(2),
                Duration.ofSeconds(30));
        try (ScriptedBackends backends = ScriptedBackends.start(dir, 8);
                HandoffFixture broker = new HandoffFixture(dir).service(backends.service()).pool(oneConnection)
                        .relayWait(Duration.ofMillis(300)).delivery(buggy).start()) {
            try (ServiceConnection first = broker.client().connect(HandoffFixture.SERVICE, HandoffFixture.VERSION)) {
                assertThat(first.route()).isEqualTo(Route.RECONNECTED);
                assertThat(HandoffFixture.echo(first.socket(), "fallback")).isEqualTo("fallback");
                RecordingHandoffEvents.Event fallback = broker.events().awaitEvent(first.connectionId(), "fallback",
                        WAIT);
                assertThat(fallback).isNotNull();
                assertThat(fallback.detail()).contains("injected bug");
            }
            assertThat(bugPending).as("the bug fired").isFalse();
            assertThat(RecordingHandoffEvents.awaitTrue(
                    () -> broker.orchestrator().pool().stats(backends.handoffEndpoint()).active() == 0, WAIT))
                    .as("control connection slot freed").isTrue();

            try (ServiceConnection second = broker.client().connect(HandoffFixture.SERVICE, HandoffFixture.VERSION)) {
                assertThat(second.route()).as(second.fallbackReason()).isEqualTo(Route.HANDED_OFF);
                assertThat(HandoffFixture.echo(second.socket(), "handed off")).isEqualTo("handed off");
            }
            assertThat(broker.orchestrator().pending().size()).isZero();
        }
    }
}
