package io.handoffbroker.server;

import static io.handoffbroker.server.ListenerTestSupport.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.handoffbroker.negotiation.ServiceBackend;
import io.handoffbroker.testing.BrokerFixture;
import io.handoffbroker.testing.RawClient;
import io.handoffbroker.wire.proto.Frame;
import io.handoffbroker.wire.proto.Hello;
import io.handoffbroker.wire.proto.HelloReply;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Many clients at once against one broker: everyone is answered, nobody stalls, idle peers block nobody. */
class ConcurrencyTest {

    private static final int CLIENTS = 200;
    private static final int ROUNDS = 20;

    @TempDir
    Path dir;

    private BrokerFixture broker;
    private ExecutorService pool;

    @AfterEach
    void cleanUp() throws InterruptedException {
        if (pool != null) {
            pool.shutdownNow();
            pool.awaitTermination(10, TimeUnit.SECONDS);
        }
        if (broker != null) {
            broker.close();
        }
    }

    private BrokerFixture startBroker(Duration helloTimeout) throws IOException {
        broker = new BrokerFixture(dir)
                .service(ServiceBackend.reconnectOnly("echo", "1.2.3", dir.resolve("echo.sock")))
                .helloTimeout(helloTimeout)
                // Every client is this one process: lift the per-pid Hello rate out of the way.
                .rateLimit(1_000_000, Duration.ofSeconds(1))
                .start();
        return broker;
    }

    @Test
    void twoHundredConcurrentClientsAllNegotiateTwentyTimesWithNoExchangeOverTwoSeconds() throws Exception {
        startBroker(Duration.ofSeconds(5));
        Hello hello = RawClient.hello("echo", "1.2.3");
        pool = Executors.newFixedThreadPool(CLIENTS, Thread.ofPlatform().name("client-", 0).daemon(true).factory());
        CountDownLatch go = new CountDownLatch(1);
        AtomicInteger negotiated = new AtomicInteger();
        AtomicLong slowestNanos = new AtomicLong();
        Queue<String> failures = new ConcurrentLinkedQueue<>();
        Set<Long> connectionIds = ConcurrentHashMap.newKeySet();
        List<Future<?>> clients = new ArrayList<>();
        for (int c = 0; c < CLIENTS; c++) {
            int client = c;
            clients.add(pool.submit(() -> {
                go.await();
                for (int round = 0; round < ROUNDS; round++) {
                    long start = System.nanoTime();
                    try (RawClient raw = RawClient.connect(broker.socketPath(), Duration.ofSeconds(5))) {
                        Frame reply = raw.send(RawClient.helloFrame(hello, client * 1000L + round)).readFrame();
                        long took = System.nanoTime() - start;
                        slowestNanos.accumulateAndGet(took, Math::max);
                        HelloReply helloReply = HelloReply.parseFrom(reply.getPayload());
                        if (helloReply.hasNegotiated() && reply.getRequestId() == client * 1000L + round) {
                            negotiated.incrementAndGet();
                            connectionIds.add(helloReply.getNegotiated().getConnectionId());
                        } else {
                            failures.add("client " + client + " round " + round + ": " + helloReply);
                        }
                    } catch (IOException e) {
                        failures.add("client " + client + " round " + round + ": " + e);
                    }
                }
                return null;
            }));
        }
        long started = System.nanoTime();
        go.countDown();
        for (Future<?> client : clients) {
            long left = Duration.ofSeconds(45).toNanos() - (System.nanoTime() - started);
            client.get(Math.max(1, left), TimeUnit.NANOSECONDS);
        }

        assertThat(failures).as("failed exchanges").isEmpty();
        assertThat(negotiated.get()).isEqualTo(CLIENTS * ROUNDS);
        assertThat(connectionIds).as("connection ids are unique").hasSize(CLIENTS * ROUNDS);
        assertThat(Duration.ofNanos(slowestNanos.get())).as("slowest connect+Hello+reply")
                .isLessThan(Duration.ofSeconds(2));
        await("every connection to be released", Duration.ofSeconds(5),
                () -> broker.server().openConnections() == 0);
    }

    @Test
    void twoHundredIdleConnectionsDoNotDelayAnotherClientsHello() throws Exception {
        startBroker(Duration.ofSeconds(30));
        List<RawClient> idle = new ArrayList<>();
        try {
            for (int i = 0; i < CLIENTS; i++) {
                idle.add(broker.connect());
            }
            await("the idle connections to be admitted", Duration.ofSeconds(10),
                    () -> broker.server().openConnections() == CLIENTS);

            long start = System.nanoTime();
            HelloReply reply;
            try (RawClient client = RawClient.connect(broker.socketPath(), Duration.ofSeconds(5))) {
                reply = client.hello(RawClient.hello("echo", "1.2.3"));
            }
            Duration took = Duration.ofNanos(System.nanoTime() - start);

            assertThat(reply.hasNegotiated()).as("reply %s", reply).isTrue();
            assertThat(took).as("Hello answered while %d idle connections are open", CLIENTS)
                    .isLessThan(Duration.ofSeconds(1));
            // The broker closes the answered connection right after its reply, which the client may
            // read first: wait for that close, then exactly the idle ones are left.
            await("the answered connection to be closed", Duration.ofSeconds(5),
                    () -> broker.server().openConnections() == CLIENTS);
        } finally {
            for (RawClient client : idle) {
                client.close();
            }
        }
        await("the idle connections to be released", Duration.ofSeconds(5),
                () -> broker.server().openConnections() == 0);
    }
}
