package io.handoffbroker.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A child's link to the orchestrator: its standard input. Every line is a command
 * for the child; the end of the stream means the orchestrator is gone (or wants the
 * child gone), and the child exits. So no child outlives a killed orchestrator.
 */
final class ParentLink {

    private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();

    private ParentLink() {
    }

    static ParentLink watch() {
        ParentLink link = new ParentLink();
        Thread.ofPlatform().name("bench-parent-link").daemon(true).start(link::readUntilEnd);
        return link;
    }

    private void readUntilEnd() {
        try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
            String line;
            while ((line = in.readLine()) != null) {
                lines.add(line.trim());
            }
        } catch (IOException ignored) {
            // Same as the end of the stream.
        }
        // System.exit runs the shutdown hooks: the broker drains and removes its socket file.
        System.exit(0);
    }

    /**
     * Tells the orchestrator that the warm-up is over (by creating {@code marker}) and
     * waits for its {@code continue}.
     */
    void warmedUp(java.nio.file.Path marker) throws java.io.IOException, InterruptedException {
        java.nio.file.Files.writeString(marker, "warmed");
        await("continue", Duration.ofMinutes(3));
    }

    /** Waits for the command line {@code expected}; other lines are skipped. */
    void await(String expected, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            long left = deadline - System.nanoTime();
            String line = left > 0 ? lines.poll(left, TimeUnit.NANOSECONDS) : null;
            if (line == null) {
                throw new IllegalStateException("no '" + expected + "' from the orchestrator within " + timeout);
            }
            if (line.equals(expected)) {
                return;
            }
        }
    }
}
