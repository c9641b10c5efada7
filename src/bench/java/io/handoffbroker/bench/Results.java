package io.handoffbroker.bench;

import java.io.IOException;
import java.io.Reader;
import java.io.Writer;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Base64;
import java.util.Properties;
import java.util.zip.DataFormatException;
import org.HdrHistogram.Histogram;

/**
 * What a child process reports back: flat key/value pairs and HdrHistograms
 * (compressed, base64), in a properties file the orchestrator reads once the child
 * has exited. Written atomically, so a half-written file is never read.
 */
final class Results {

    /** Latencies are recorded in nanoseconds, up to a minute, with 3 significant digits. */
    static Histogram newHistogram() {
        return new Histogram(60_000_000_000L, 3);
    }

    /** Records a latency, clamping values a histogram cannot hold (never expected). */
    static void record(Histogram histogram, long nanos) {
        histogram.recordValue(Math.max(0, Math.min(nanos, histogram.getHighestTrackableValue())));
    }

    private final Properties values = new Properties();

    Results put(String key, Object value) {
        values.setProperty(key, String.valueOf(value));
        return this;
    }

    Results putHistogram(String key, Histogram histogram) {
        ByteBuffer buffer = ByteBuffer.allocate(histogram.getNeededByteBufferCapacity());
        int length = histogram.encodeIntoCompressedByteBuffer(buffer);
        values.setProperty("histogram." + key, Base64.getEncoder().encodeToString(
                java.util.Arrays.copyOf(buffer.array(), length)));
        return this;
    }

    String get(String key) {
        String value = values.getProperty(key);
        if (value == null) {
            throw new IllegalStateException("result '" + key + "' missing");
        }
        return value;
    }

    String get(String key, String otherwise) {
        return values.getProperty(key, otherwise);
    }

    long getLong(String key) {
        return Long.parseLong(get(key));
    }

    double getDouble(String key) {
        return Double.parseDouble(get(key));
    }

    Histogram histogram(String key) {
        byte[] bytes = Base64.getDecoder().decode(get("histogram." + key));
        try {
            return Histogram.decodeFromCompressedByteBuffer(ByteBuffer.wrap(bytes), 0);
        } catch (DataFormatException e) {
            throw new IllegalStateException("histogram '" + key + "' is corrupt", e);
        }
    }

    void write(Path file) throws IOException {
        Path partial = file.resolveSibling(file.getFileName() + ".partial");
        try (Writer out = Files.newBufferedWriter(partial, StandardCharsets.UTF_8)) {
            values.store(out, null);
        }
        Files.move(partial, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    static Results read(Path file) throws IOException {
        Results results = new Results();
        try (Reader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            results.values.load(in);
        }
        return results;
    }
}
