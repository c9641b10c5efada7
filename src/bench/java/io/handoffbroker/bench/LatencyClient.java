package io.handoffbroker.bench;

import io.handoffbroker.wire.proto.Hello;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import org.HdrHistogram.Histogram;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/**
 * Figures 1 and 2, from one client process.
 *
 * <ul>
 *   <li>Floor: a 1-byte ping-pong over one open junixsocket connection to the floor
 *       server, another process: write one byte, read one byte.</li>
 *   <li>Connect floor (informative): the same on a fresh connection each time, to a
 *       floor server thread that accepts, answers one byte and closes: connect, write,
 *       read, close. It is what a fresh connection costs before any broker logic.</li>
 *   <li>Hello: {@link HelloProbe} against the broker, a fresh connection per sample.</li>
 *   <li>Paced Hello (informative), after the blocks: SAMPLES/5 more Hellos, each 1 ms after
 *       the previous one returned, so that every Hello finds the broker's loop asleep in
 *       its wait, as a sporadic client does. Back to back, the loop may still be
 *       busy with the previous connection when the next one arrives and accept it
 *       without going back to its wait.</li>
 * </ul>
 * Warm-up interleaves all three, and lasts until the JIT compilers of the broker, the
 * floor server and this process are quiet ({@link WarmUp}), {@code WARMUP} rounds at
 * least; the measured samples are taken in alternating blocks
 * (floor block, connect-floor block, Hello block, ...), so that all figures see the
 * same load on a machine that is busy with other work. Between warm-up and measurement
 * the client writes the marker file and waits for {@code continue}, so the orchestrator
 * can read the broker's own meters for exactly the measured Hellos.
 *
 * <p>Arguments: {@code FLOOR_SOCKET CONNECT_FLOOR_SOCKET BROKER_SOCKET SERVICE VERSION WARMUP SAMPLES BLOCK
 * BROKER_PID FLOOR_PID MARKER_FILE RESULT_FILE}.
 */
final class LatencyClient {

    private LatencyClient() {
    }

    static int run(String[] args, ParentLink parent) throws Exception {
        Path floorSocket = Path.of(args[0]);
        AFUNIXSocketAddress connectFloor = AFUNIXSocketAddress.of(Path.of(args[1]));
        HelloProbe hellos = new HelloProbe(Path.of(args[2]), args[3], args[4]);
        int warmup = Integer.parseInt(args[5]);
        int samples = Integer.parseInt(args[6]);
        int block = Integer.parseInt(args[7]);
        long brokerPid = Long.parseLong(args[8]);
        long floorPid = Long.parseLong(args[9]);
        Path marker = Path.of(args[10]);
        Path resultFile = Path.of(args[11]);

        Histogram floor = Results.newHistogram();
        Histogram connectFloors = Results.newHistogram();
        Histogram hello = Results.newHistogram();
        try (AFUNIXSocket socket = AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(floorSocket))) {
            socket.setSoTimeout(5_000);
            InputStream in = socket.getInputStream();
            OutputStream out = socket.getOutputStream();
            Results results = new Results();
            WarmUp.run(() -> {
                try {
                    ping(in, out);
                    connectPing(connectFloor);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
                helloOnce(hellos);
            }, warmup, WarmUp.maximum(warmup), brokerPid, floorPid, ProcessHandle.current().pid())
                    .putInto(results, "warmup");
            long warmupFailures = hellos.failureCount();
            parent.warmedUp(marker);
            int floorDone = 0;
            int connectDone = 0;
            int helloDone = 0;
            while (floorDone < samples || connectDone < samples || helloDone < samples) {
                for (int i = 0; i < block && floorDone < samples; i++, floorDone++) {
                    Results.record(floor, ping(in, out));
                }
                for (int i = 0; i < block && connectDone < samples; i++, connectDone++) {
                    Results.record(connectFloors, connectPing(connectFloor));
                }
                for (int i = 0; i < block && helloDone < samples; i++, helloDone++) {
                    long nanos = helloOnce(hellos);
                    if (nanos >= 0) {
                        Results.record(hello, nanos);
                    }
                }
            }
            Histogram paced = Results.newHistogram();
            for (int i = 0; i < samples / 5; i++) {
                java.util.concurrent.locks.LockSupport.parkNanos(1_000_000L);
                long nanos = helloOnce(hellos);
                if (nanos >= 0) {
                    Results.record(paced, nanos);
                }
            }
            results.putHistogram("floor", floor)
                    .putHistogram("hello-paced", paced)
                    .putHistogram("connect-floor", connectFloors)
                    .putHistogram("hello", hello)
                    .put("hello.failures", hellos.failureCount() - warmupFailures)
                    .put("hello.failures.detail", hellos.failureSummary())
                    .write(resultFile);
        }
        return 0;
    }

    private static long ping(InputStream in, OutputStream out) throws IOException {
        long start = System.nanoTime();
        out.write(0x2a);
        if (in.read() < 0) {
            throw new EOFException("floor server closed the connection");
        }
        return System.nanoTime() - start;
    }

    /** Connect, one byte each way, close: a fresh connection's own cost. */
    private static long connectPing(AFUNIXSocketAddress address) throws IOException {
        long start = System.nanoTime();
        try (AFUNIXSocket socket = AFUNIXSocket.connectTo(address)) {
            socket.getOutputStream().write(0x2a);
            if (socket.getInputStream().read() < 0) {
                throw new EOFException("connect floor server closed the connection before answering");
            }
        }
        return System.nanoTime() - start;
    }

    /** @return the round trip in nanoseconds, or -1 when it failed */
    private static long helloOnce(HelloProbe hellos) {
        Hello hello = hellos.hello();
        long start = System.nanoTime();
        long done = hellos.exchange(hello);
        return done < 0 ? -1 : done - start;
    }
}
