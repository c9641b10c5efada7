package io.handoffbroker.bench;

import io.handoffbroker.wire.proto.Hello;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
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
 *   <li>Hello: {@link HelloProbe} against the broker, a fresh connection per sample.</li>
 * </ul>
 * Warm-up interleaves both; the measured samples are taken in alternating blocks
 * (floor block, Hello block, ...), so that both figures see the same load on a
 * machine that is busy with other work.
 *
 * <p>Arguments: {@code FLOOR_SOCKET BROKER_SOCKET SERVICE VERSION WARMUP SAMPLES BLOCK RESULT_FILE}.
 */
final class LatencyClient {

    private LatencyClient() {
    }

    static int run(String[] args) throws Exception {
        Path floorSocket = Path.of(args[0]);
        HelloProbe hellos = new HelloProbe(Path.of(args[1]), args[2], args[3]);
        int warmup = Integer.parseInt(args[4]);
        int samples = Integer.parseInt(args[5]);
        int block = Integer.parseInt(args[6]);
        Path resultFile = Path.of(args[7]);

        Histogram floor = Results.newHistogram();
        Histogram hello = Results.newHistogram();
        try (AFUNIXSocket socket = AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(floorSocket))) {
            socket.setSoTimeout(5_000);
            InputStream in = socket.getInputStream();
            OutputStream out = socket.getOutputStream();
            for (int i = 0; i < warmup; i++) {
                ping(in, out);
                helloOnce(hellos);
            }
            long warmupFailures = hellos.failureCount();
            int floorDone = 0;
            int helloDone = 0;
            while (floorDone < samples || helloDone < samples) {
                for (int i = 0; i < block && floorDone < samples; i++, floorDone++) {
                    Results.record(floor, ping(in, out));
                }
                for (int i = 0; i < block && helloDone < samples; i++, helloDone++) {
                    long nanos = helloOnce(hellos);
                    if (nanos >= 0) {
                        Results.record(hello, nanos);
                    }
                }
            }
            new Results()
                    .putHistogram("floor", floor)
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

    /** @return the round trip in nanoseconds, or -1 when it failed */
    private static long helloOnce(HelloProbe hellos) {
        Hello hello = hellos.hello();
        long start = System.nanoTime();
        long done = hellos.exchange(hello);
        return done < 0 ? -1 : done - start;
    }
}
