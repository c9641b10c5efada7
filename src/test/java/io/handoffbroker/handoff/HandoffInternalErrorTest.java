package io.handoffbroker.handoff;

import static org.assertj.core.api.Assertions.assertThat;

import io.handoffbroker.client.Route;
import io.handoffbroker.client.ServiceConnection;
import io.handoffbroker.testing.HandoffFixture;
import io.handoffbroker.testing.RecordingHandoffEvents;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
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

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"worker", "event loop"})
    void aBugWhileAControlConnectionIsHeldDiscardsItSoTheNextHandoffGetsTheSlot(String where) throws Exception {
        // The delivery reads its clock when it judges the ACK, with the control connection held.
        AtomicBoolean bugArmed = new AtomicBoolean(false);
        WireHandoffDelivery buggy = new WireHandoffDelivery(() -> {
            if (bugArmed.getAndSet(false)) {
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
                        .relayWait(Duration.ofSeconds(1)).delivery(buggy).start()) {
            if (where.equals("event loop")) {
                // A first handoff leaves its control connection idle in the pool: the next one runs on the loop.
                assertHandedOff(broker, "warm-up");
                assertThat(RecordingHandoffEvents.awaitTrue(
                        () -> broker.orchestrator().pool().stats(backends.handoffEndpoint()).idle() == 1, WAIT))
                        .as("an idle control connection").isTrue();
            }
            bugArmed.set(true);
            try (ServiceConnection failed = broker.client().connect(HandoffFixture.SERVICE, HandoffFixture.VERSION)) {
                assertThat(failed.route()).isEqualTo(Route.RECONNECTED);
                assertThat(HandoffFixture.echo(failed.socket(), "fallback")).isEqualTo("fallback");
                RecordingHandoffEvents.Event fallback = broker.events().awaitEvent(failed.connectionId(), "fallback",
                        WAIT);
                assertThat(fallback).isNotNull();
                assertThat(fallback.detail()).contains("injected bug");
            }
            assertThat(bugArmed).as("the bug fired").isFalse();
            assertThat(RecordingHandoffEvents.awaitTrue(
                    () -> broker.orchestrator().pool().stats(backends.handoffEndpoint()).active() == 0, WAIT))
                    .as("control connection slot freed").isTrue();

            assertHandedOff(broker, "after the bug");
            assertThat(broker.orchestrator().pending().size()).isZero();
        }
    }

    private static void assertHandedOff(HandoffFixture broker, String message) throws Exception {
        try (ServiceConnection connection = broker.client().connect(HandoffFixture.SERVICE, HandoffFixture.VERSION)) {
            assertThat(connection.route()).as(connection.fallbackReason()).isEqualTo(Route.HANDED_OFF);
            assertThat(HandoffFixture.echo(connection.socket(), message)).isEqualTo(message);
        }
    }
}
