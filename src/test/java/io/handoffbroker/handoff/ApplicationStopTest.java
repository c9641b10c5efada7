package io.handoffbroker.handoff;

import static org.assertj.core.api.Assertions.assertThat;

import io.handoffbroker.client.Route;
import io.handoffbroker.client.ServiceConnection;
import io.handoffbroker.config.BrokerLifecycle;
import io.handoffbroker.negotiation.ServiceCatalog;
import io.handoffbroker.server.BackendProber;
import io.handoffbroker.testing.HandoffFixture;
import io.handoffbroker.testing.RawClient;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The application's stop ({@link BrokerLifecycle#stop()}) drains the listener, then waits for
 * the handoff workers: that last wait is bounded by the ACK deadline and a second counted from
 * the drain's start, so a stop takes the longer of the grace period and that bound, not their
 * sum (docs/operations.md). Here both are 4 s, with a worker held past its deadline until it is
 * interrupted and a client that keeps the drain busy for the whole grace period: about 4 s, where
 * counting from the drain's end would take 8.
 */
@Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class ApplicationStopTest {

    private static final Duration GRACE = Duration.ofSeconds(4);
    private static final Duration ACK_DEADLINE = Duration.ofSeconds(3);
    // Half the difference between the two answers: it bounds a stall of the machine, not a speed.
    private static final Duration SLACK = Duration.ofSeconds(2);
    private static final Duration WAIT = Duration.ofSeconds(20);

    @TempDir
    Path dir;

    @Test
    void aStopWaitsForTheWorkersFromTheDrainsStartNotFromItsEnd() throws Exception {
        // The handoff's worker stays past its deadline until the stop interrupts it.
        FirstWorkerHeld worker = new FirstWorkerHeld();
        try (ScriptedBackends backends = ScriptedBackends.start(dir, 8);
                HandoffFixture broker = new HandoffFixture(dir).workers(1).delivery(worker.delivery())
                        .ackDeadline(ACK_DEADLINE).service(backends.service())
                        // Only the grace period may end the drain: the idle client below never says Hello.
                        .broker(b -> b.helloTimeout(Duration.ofMinutes(1))).start();
                BackendProber prober = new BackendProber(new ServiceCatalog(List.of(backends.service())),
                        Duration.ofMinutes(1), Duration.ofSeconds(1), Clock.systemUTC());
                RawClient idle = broker.broker().connect()) {
            backends.scripted().then(ScriptedHandoffBackend.refuse("no room for it"));
            CompletableFuture<ServiceConnection> held = CompletableFuture.supplyAsync(() -> {
                try {
                    return broker.client(WAIT).connect(HandoffFixture.SERVICE, HandoffFixture.VERSION);
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            assertThat(worker.awaitHeld(WAIT)).as("the handoff holds the worker")
                    .isTrue();
            BrokerLifecycle application = new BrokerLifecycle(broker.broker().server(), prober,
                    broker.orchestrator(), null, GRACE, event -> { });

            long began = System.nanoTime();
            application.stop();
            Duration took = Duration.ofNanos(System.nanoTime() - began);

            assertThat(took).as("the stop: the grace period and the workers' bound overlap")
                    .isGreaterThanOrEqualTo(GRACE).isLessThan(GRACE.plus(SLACK));
            try (ServiceConnection told = held.get(WAIT.toSeconds(), TimeUnit.SECONDS)) {
                assertThat(told.route()).isEqualTo(Route.RECONNECTED);
                assertThat(told.fallbackReason()).as("the refusal the interrupted worker relayed")
                        .isEqualTo("no room for it");
            }
        }
    }
}
