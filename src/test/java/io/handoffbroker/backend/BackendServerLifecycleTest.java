package io.handoffbroker.backend;

import static org.assertj.core.api.Assertions.assertThat;

import io.handoffbroker.demo.EchoHandler;
import io.handoffbroker.testing.LiveThreads;
import io.handoffbroker.testing.OpenDescriptors;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.AFUNIXSocketChannel;

/** Starting and closing the backend SDK's server leaves nothing behind: no descriptor, no thread, no file. */
class BackendServerLifecycleTest {

    @TempDir
    Path dir;

    @Test
    void closingReleasesEveryDescriptorAndRemovesBothSocketFiles() throws Exception {
        Path pipe = dir.resolve("b").resolve("pipe.sock");
        Path handoff = dir.resolve("h").resolve("handoff.sock");
        cycle(pipe, handoff); // class loading and junixsocket's native set-up happen once
        OpenDescriptors.Snapshot baseline = OpenDescriptors.stable(Duration.ofMillis(100), Duration.ofSeconds(3));

        for (int i = 0; i < 20; i++) {
            cycle(pipe, handoff);
        }

        OpenDescriptors.awaitAtMost(baseline, Duration.ofSeconds(3));
        assertThat(Files.exists(pipe)).isFalse();
        assertThat(Files.exists(handoff)).isFalse();
        assertThat(Thread.getAllStackTraces().keySet().stream().map(Thread::getName)
                .filter(n -> n.startsWith("backend-") && n.endsWith("accept")))
                .as("accept threads left running").isEmpty();
    }

    @Test
    void closingEndsOpenControlConnectionsThroughTheirOwnThreadsWhichCloseTheirSockets() throws Exception {
        Path pipe = dir.resolve("pipe.sock");
        Path handoff = dir.resolve("handoff.sock");
        Set<Thread> atStart = LiveThreads.snapshot();
        cycleWithControlConnections(pipe, handoff, atStart);
        OpenDescriptors.Snapshot baseline = OpenDescriptors.stable(Duration.ofMillis(100), Duration.ofSeconds(3));
        Set<Thread> before = LiveThreads.snapshot();

        for (int i = 0; i < 5; i++) {
            cycleWithControlConnections(pipe, handoff, atStart);
        }

        LiveThreads.awaitGone(before, Duration.ofSeconds(3), "backend-handoff-control");
        OpenDescriptors.awaitAtMost(baseline, Duration.ofSeconds(3));
    }

    /** Two idle control connections, as a broker's pool holds them, open while the server closes. */
    private static void cycleWithControlConnections(Path pipe, Path handoff, Set<Thread> atStart)
            throws Exception {
        // The last cycle's control threads end after its close returned: counted below, they would
        // pass for this cycle's, and a connection not yet accepted would be reset by the close.
        LiveThreads.awaitGone(atStart, Duration.ofSeconds(5), "backend-handoff-control");
        try (BackendServer server = new BackendServer(pipe, Optional.of(handoff), new EchoHandler(), 4).start();
                AFUNIXSocket first = RawOffers.connect(handoff);
                AFUNIXSocket second = RawOffers.connect(handoff)) {
            awaitControlThreads(2);
            server.close();
            assertThat(first.getInputStream().read()).as("the backend ended the first").isEqualTo(-1);
            assertThat(second.getInputStream().read()).as("the backend ended the second").isEqualTo(-1);
        }
    }

    @Test
    void aClientWaitingForASlotIsLetGoWhenTheServerCloses() throws Exception {
        Path pipe = dir.resolve("pipe.sock");
        BackendServer server = new BackendServer(pipe, new EchoHandler(), 1).start();
        try (AFUNIXSocket first = AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(pipe));
                AFUNIXSocket waiting = AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(pipe))) {
            assertThat(echo(first, "one")).isEqualTo("one");
            waiting.setSoTimeout(5_000);
            long started = System.nanoTime();
            server.close();
            assertThat(waiting.getInputStream().read()).as("the waiting client sees end of stream").isEqualTo(-1);
            assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(3));
        }
    }

    @Test
    void closingReturnsPromptlyWhenTheBacklogIsFullAndNoSlotIsFree() throws Exception {
        Path pipe = dir.resolve("full.sock");
        BackendServer server = new BackendServer(pipe, new EchoHandler(), 1).start();
        List<AFUNIXSocketChannel> waiting = new ArrayList<>();
        try (AFUNIXSocket first = AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(pipe))) {
            assertThat(echo(first, "one")).isEqualTo("one");
            // The only slot is taken: one client waits accepted, the rest fill the listen backlog.
            for (int i = 0; i < 200; i++) {
                AFUNIXSocketChannel channel = AFUNIXSocketChannel.open();
                waiting.add(channel);
                channel.configureBlocking(false);
                try {
                    channel.connect(AFUNIXSocketAddress.of(pipe));
                } catch (IOException backlogFull) {
                    break;
                }
            }
            long started = System.nanoTime();
            // A close() that throws returns promptly too: that must not pass for a prompt close.
            AtomicReference<Throwable> closeFailed = new AtomicReference<>();
            Thread closer = Thread.ofPlatform().uncaughtExceptionHandler((thread, e) -> closeFailed.set(e))
                    .start(server::close);
            closer.join(Duration.ofSeconds(10));
            assertThat(closer.isAlive()).as("close() still running").isFalse();
            assertThat(closeFailed.get()).as("close() failed").isNull();
            assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(5));
        } finally {
            waiting.forEach(c -> {
                try {
                    c.close();
                } catch (IOException ignored) {
                    // closing test clients
                }
            });
        }
    }

    private static void cycle(Path pipe, Path handoff) throws Exception {
        try (BackendServer server = new BackendServer(pipe, Optional.of(handoff), new EchoHandler(), 4).start();
                AFUNIXSocket client = AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(pipe))) {
            assertThat(echo(client, "x")).isEqualTo("x");
            assertThat(server.openConnections()).isEqualTo(1);
        }
    }

    private static void awaitControlThreads(int count) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().equals("backend-handoff-control")).count() < count) {
            assertThat(System.nanoTime() - deadline).as("control connections taken on").isNegative();
            Thread.sleep(5);
        }
    }

    private static String echo(AFUNIXSocket socket, String message) throws IOException {
        socket.setSoTimeout(5_000);
        OutputStream out = socket.getOutputStream();
        out.write(message.getBytes());
        out.flush();
        InputStream in = socket.getInputStream();
        return new String(in.readNBytes(message.length()));
    }
}
