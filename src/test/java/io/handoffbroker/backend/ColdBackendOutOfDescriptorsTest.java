package io.handoffbroker.backend;

import static org.assertj.core.api.Assertions.assertThat;

import io.handoffbroker.wire.proto.HandoffAck;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXSocket;

/**
 * A backend process whose very first offer comes while it is out of descriptors. What the
 * refusal of that offer needs was never used, and its classes are read from a directory, as
 * in the container image: one that could not be read then would fail for good, every later
 * offer with it. (In-process tests cannot show this: their classes are loaded by earlier ones.)
 */
class ColdBackendOutOfDescriptorsTest {

    private static final Duration WAIT = Duration.ofSeconds(20);

    @TempDir
    Path dir;

    @Test
    void itsFirstOfferWhileOutOfDescriptorsIsRefusedWithAnAckAndTheNextIsAccepted() throws Exception {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        ProcessBuilder builder = new ProcessBuilder(java.toString(), "--enable-native-access=ALL-UNNAMED",
                "-XX:TieredStopAtLevel=1", "-XX:-UsePerfData", "-cp", System.getProperty("java.class.path"),
                ColdBackend.class.getName(), dir.toString())
                .redirectError(dir.resolve("backend.err").toFile());
        builder.environment().remove("JAVA_TOOL_OPTIONS");
        Process backend = builder.start();
        BlockingQueue<String> lines = new LinkedBlockingQueue<>();
        Thread.ofPlatform().daemon(true).start(() -> {
            try (BufferedReader out = new BufferedReader(
                    new InputStreamReader(backend.getInputStream(), StandardCharsets.UTF_8))) {
                out.lines().forEach(lines::add);
            } catch (IOException ended) {
                // the process is gone
            }
        });
        try (PrintStream commands = new PrintStream(backend.getOutputStream(), true, StandardCharsets.UTF_8)) {
            expect(lines, "started");
            // Its listeners, and whatever else it holds for good: junixsocket keeps one end of the
            // socketpair it probes its capabilities with.
            long atRest = sockets(backend.pid());
            try (AFUNIXSocket control = RawOffers.connect(dir.resolve("handoff.sock"));
                    RawOffers.Pair client = RawOffers.Pair.open()) {
                // Accepted (and its own number for the socket taken) before the numbers run out.
                awaitSockets(backend.pid(), atRest + 2);
                commands.println("exhaust");
                expect(lines, "exhausted");

                HandoffAck refused = RawOffers.ack(control, client.passed(), RawOffers.token(1), 41);

                commands.println("release");
                expect(lines, "released");
                assertThat(refused.getAccepted()).isFalse();
                assertThat(refused.getCorrelationId()).isEqualTo(41);
                assertThat(refused.getErrorDetail()).startsWith("backend could not take the descriptor");
                assertThat(RawOffers.ack(control, client.passed(), RawOffers.token(2), 42).getAccepted())
                        .as("the next offer, with descriptors free again").isTrue();
            }
        } finally {
            if (!backend.waitFor(10, TimeUnit.SECONDS)) {
                backend.destroyForcibly();
            }
        }
        assertThat(Files.readString(dir.resolve("backend.err"))).doesNotContain("NoClassDefFoundError");
    }

    /** Waits for the backend to say {@code expected}, past its log lines. */
    private static void expect(BlockingQueue<String> lines, String expected) throws InterruptedException {
        long deadline = System.nanoTime() + WAIT.toNanos();
        String line;
        do {
            line = lines.poll(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            assertThat(line).as("the backend saying %s", expected).isNotNull();
        } while (!line.startsWith(ColdBackend.SAYS));
        assertThat(line).isEqualTo(ColdBackend.SAYS + expected);
    }

    /** Waits until the process holds at least {@code least} sockets. */
    private static void awaitSockets(long pid, long least) throws Exception {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (sockets(pid) < least) {
            assertThat(System.nanoTime() - deadline).as("sockets of the backend").isNegative();
            Thread.sleep(10);
        }
    }

    private static long sockets(long pid) throws IOException {
        long count = 0;
        try (var fds = Files.list(Path.of("/proc", Long.toString(pid), "fd"))) {
            for (Path fd : fds.toList()) {
                try {
                    if (Files.readSymbolicLink(fd).toString().startsWith("socket:")) {
                        count++;
                    }
                } catch (IOException closedMeanwhile) {
                    // gone
                }
            }
        }
        return count;
    }
}
