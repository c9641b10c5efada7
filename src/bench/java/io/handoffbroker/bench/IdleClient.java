package io.handoffbroker.bench;

import io.handoffbroker.wire.proto.Hello;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.HdrHistogram.Histogram;

/**
 * Figure 6: the broker holding many idle client connections. In steps, each ended by
 * a marker file this client writes and a {@code continue} line the orchestrator sends
 * once it has measured the broker:
 * <ol>
 *   <li>{@code warmed}: WARMUP Hellos were sent, so the broker has served traffic
 *       before its baseline is read;</li>
 *   <li>{@code opened}: N connections are open and idle (nothing is ever sent on
 *       them); the orchestrator waits until the broker holds them all, then reads its
 *       resident size;</li>
 *   <li>Hellos are measured while the N idle connections stay open (informative: the
 *       cost of a wait over many descriptors), each 1 ms after the previous one
 *       returned so that each finds the broker's loop asleep in its wait; then every
 *       connection is closed.</li>
 * </ol>
 * The connections are plain JDK Unix-domain channels: only the broker's side is measured.
 *
 * <p>Arguments: {@code BROKER_SOCKET SERVICE VERSION WARMUP CONNECTIONS HELLO_WARMUP HELLO_SAMPLES MARKER_DIR
 * RESULT_FILE}.
 */
final class IdleClient {

    private static final Duration STEP_TIMEOUT = Duration.ofMinutes(3);

    private IdleClient() {
    }

    static int run(String[] args, ParentLink parent) throws Exception {
        Path broker = Path.of(args[0]);
        HelloProbe probe = new HelloProbe(broker, args[1], args[2]);
        int warmup = Integer.parseInt(args[3]);
        int connections = Integer.parseInt(args[4]);
        int helloWarmup = Integer.parseInt(args[5]);
        int helloSamples = Integer.parseInt(args[6]);
        Path markers = Path.of(args[7]);
        Path resultFile = Path.of(args[8]);

        for (int i = 0; i < warmup; i++) {
            probe.exchange(probe.hello());
        }
        long warmupFailures = probe.failureCount();
        parent.warmedUp(markers.resolve("idle.warmed"));

        List<SocketChannel> idle = new ArrayList<>(connections);
        Results results = new Results();
        long openStart = System.nanoTime();
        try {
            for (int i = 0; i < connections; i++) {
                SocketChannel channel = SocketChannel.open(StandardProtocolFamily.UNIX);
                idle.add(channel);
                channel.connect(UnixDomainSocketAddress.of(broker));
            }
            results.put("open.seconds", (System.nanoTime() - openStart) / 1e9);
            mark(markers, "opened");
            parent.await("continue", STEP_TIMEOUT);

            Histogram withIdle = Results.newHistogram();
            for (int i = 0; i < helloWarmup + helloSamples; i++) {
                java.util.concurrent.locks.LockSupport.parkNanos(1_000_000L);
                Hello hello = probe.hello();
                long start = System.nanoTime();
                long done = probe.exchange(hello);
                if (i >= helloWarmup && done >= 0) {
                    Results.record(withIdle, done - start);
                }
            }
            results.putHistogram("hello-with-idle", withIdle);
        } finally {
            for (SocketChannel channel : idle) {
                try {
                    channel.close();
                } catch (IOException ignored) {
                    // Closing anyway.
                }
            }
        }
        results.put("connections", connections)
                .put("warmup.failures", warmupFailures)
                .put("failures", probe.failureCount() - warmupFailures)
                .put("failures.detail", probe.failureSummary())
                .write(resultFile);
        return 0;
    }

    private static void mark(Path markers, String step) throws IOException {
        Files.writeString(markers.resolve("idle." + step), step);
    }
}
