package io.handoffbroker.handoff;

import static org.assertj.core.api.Assertions.assertThat;

import io.handoffbroker.backend.BackendServer;
import io.handoffbroker.client.BrokerClient;
import io.handoffbroker.client.Route;
import io.handoffbroker.client.ServiceConnection;
import io.handoffbroker.testing.HandoffFixture;
import io.handoffbroker.testing.RecordingHandoffEvents;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Many clients at once through one broker to one SDK backend. */
class ConcurrentHandoffTest {

    private static final int CLIENTS = 200;
    private static final Duration ACK_DEADLINE = Duration.ofSeconds(2);
    private static final Duration RELAY_WAIT = Duration.ofSeconds(3);
    /** The longest one client may take: a full relay wait, a reconnect and generous scheduling slack. */
    private static final Duration PER_CLIENT_BOUND = ACK_DEADLINE.plus(RELAY_WAIT).plus(Duration.ofSeconds(3));

    @TempDir
    Path dir;

    private record Result(Route route, String fallbackReason, long nanos, String echoed, String expected) {
    }

    @Test
    void twoHundredConcurrentClientsAllEndOnWorkingConnectionsMostOfThemHandedOff() throws Exception {
        Path pipe = dir.resolve("b").resolve("pipe.sock");
        Path handoff = dir.resolve("b").resolve("ho.sock");
        try (BackendServer backend = new BackendServer(pipe, Optional.of(handoff), new RecordingEchoHandler(),
                CLIENTS * 2).start();
                HandoffFixture broker = new HandoffFixture(dir).ackDeadline(ACK_DEADLINE)
                        .ackGrace(Duration.ofSeconds(1)).relayWait(RELAY_WAIT)
                        .service(HandoffFixture.handoffService(pipe, handoff)).start()) {
            BrokerClient client = broker.client();
            CountDownLatch go = new CountDownLatch(1);
            List<Future<Result>> futures = new ArrayList<>();
            try (ExecutorService threads = Executors.newFixedThreadPool(CLIENTS)) {
                for (int i = 0; i < CLIENTS; i++) {
                    String message = "client-" + i;
                    futures.add(threads.submit(() -> {
                        go.await();
                        long started = System.nanoTime();
                        try (ServiceConnection connection = client.connect(HandoffFixture.SERVICE,
                                HandoffFixture.VERSION)) {
                            String echoed = HandoffFixture.echo(connection.socket(), message);
                            return new Result(connection.route(), connection.fallbackReason(),
                                    System.nanoTime() - started, echoed, message);
                        }
                    }));
                }
                go.countDown();
                long deadline = System.nanoTime() + PER_CLIENT_BOUND.plusSeconds(5).toNanos();
                List<Result> results = new ArrayList<>();
                for (Future<Result> f : futures) {
                    results.add(f.get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS));
                }

                assertThat(results).allSatisfy(r -> assertThat(r.echoed()).isEqualTo(r.expected()));
                long slowest = results.stream().mapToLong(Result::nanos).max().orElseThrow();
                assertThat(Duration.ofNanos(slowest)).as("slowest client").isLessThan(PER_CLIENT_BOUND);
                long handedOff = results.stream().filter(r -> r.route() == Route.HANDED_OFF).count();
                Map<String, Integer> fallbackReasons = new TreeMap<>();
                results.stream().filter(r -> r.route() == Route.RECONNECTED)
                        .forEach(r -> fallbackReasons.merge(r.fallbackReason(), 1, Integer::sum));
                assertThat(handedOff).as("handed off; client-side fallbacks %s; broker %s", fallbackReasons,
                        broker.events()).isGreaterThanOrEqualTo(CLIENTS * 3L / 4);
                // handed_off is reported after the relay was written: a client may be done before that.
                assertThat(RecordingHandoffEvents.awaitTrue(() -> broker.events().handedOff() == handedOff,
                        Duration.ofSeconds(3))).as("broker events %s", broker.events()).isTrue();
            }
            assertThat(broker.orchestrator().pending().size()).isZero();
        }
    }
}
