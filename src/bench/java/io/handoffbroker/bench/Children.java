package io.handoffbroker.bench;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The processes the orchestrator started. Every child runs {@link BenchChild} with the
 * same java binary and class path as the orchestrator, its output goes to a log file,
 * and its standard input stays connected to the orchestrator ({@link ParentLink}).
 * {@link #close()} ends them all: standard input closed, then SIGTERM, then SIGKILL.
 */
final class Children implements AutoCloseable {

    /** A started child. */
    record Child(String name, Process process, Path log) {

        long pid() {
            return process.pid();
        }

        /** Sends one command line to the child. */
        void send(String line) throws IOException {
            OutputStream in = process.getOutputStream();
            in.write((line + "\n").getBytes(StandardCharsets.UTF_8));
            in.flush();
        }

        String logTail() {
            try {
                List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
                return String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size()));
            } catch (IOException e) {
                return "(no log: " + e.getMessage() + ")";
            }
        }
    }

    private final String java;
    private final String classPath;
    private final Path logs;
    private final boolean pin;
    private final Map<String, Child> running = new LinkedHashMap<>();

    Children(Path logs, boolean pin) throws IOException {
        this.java = ProcessHandle.current().info().command()
                .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        this.classPath = System.getProperty("java.class.path");
        this.logs = Files.createDirectories(logs);
        this.pin = pin;
    }

    String javaCommand() {
        return java;
    }

    /**
     * Starts a child.
     *
     * @param cpu the CPU to pin it to when pinning is on ({@code taskset -c}), else ignored
     * @param jvmOptions extra JVM options, may be empty
     */
    synchronized Child start(String name, int cpu, List<String> jvmOptions, Path workingDirectory, String role,
            String... args) throws IOException {
        if (running.containsKey(name)) {
            throw new IllegalStateException(name + " is already running");
        }
        List<String> command = new ArrayList<>();
        if (pin) {
            command.addAll(List.of("taskset", "-c", Integer.toString(cpu)));
        }
        command.add(java);
        command.add("--enable-native-access=ALL-UNNAMED");
        command.addAll(jvmOptions);
        command.addAll(List.of("-cp", classPath, BenchChild.class.getName(), role));
        command.addAll(List.of(args));
        Path log = logs.resolve(name + ".log");
        Process process = new ProcessBuilder(command)
                .directory(workingDirectory.toFile())
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .start();
        Child child = new Child(name, process, log);
        running.put(name, child);
        return child;
    }

    /** Waits for a child to finish on its own; fails with its log when it does not, or exits non-zero. */
    void awaitExit(Child child, Duration timeout) throws IOException, InterruptedException {
        boolean exited = child.process().waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
        if (!exited) {
            stop(child);
            throw new IOException(child.name() + " did not finish within " + timeout + "; its log:\n"
                    + child.logTail());
        }
        synchronized (this) {
            running.remove(child.name());
        }
        if (child.process().exitValue() != 0) {
            throw new IOException(child.name() + " exited with status " + child.process().exitValue()
                    + "; its log:\n" + child.logTail());
        }
    }

    /** Ends a child: standard input closed (it exits by itself), then SIGTERM, then SIGKILL. */
    void stop(Child child) {
        synchronized (this) {
            running.remove(child.name());
        }
        Process process = child.process();
        try {
            process.getOutputStream().close();
            if (process.waitFor(10, TimeUnit.SECONDS)) {
                return;
            }
            process.destroy();
            if (process.waitFor(5, TimeUnit.SECONDS)) {
                return;
            }
        } catch (IOException ignored) {
            // Its standard input is gone already; go on with signals.
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        process.descendants().forEach(ProcessHandle::destroyForcibly);
        process.destroyForcibly();
    }

    @Override
    public void close() {
        List<Child> all;
        synchronized (this) {
            all = new ArrayList<>(running.values());
        }
        for (Child child : all.reversed()) {
            stop(child);
        }
    }
}
