package io.handoffbroker.examples;

import static org.assertj.core.api.Assertions.assertThat;

import io.handoffbroker.HandoffBrokerApplication;
import io.handoffbroker.backend.BackendServer;
import io.handoffbroker.backend.StreamHandler;
import io.handoffbroker.client.BrokerClient;
import io.handoffbroker.client.Route;
import io.handoffbroker.examples.UpperCaseClient.Answer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * The SDK example the README quotes ({@link UpperCaseBackend}, {@link UpperCaseClient}), run
 * against the broker application as operators run it, configured with the service {@code upper}:
 * both routes, the broker's probes as the handler sees them, the backend's {@code main} in a
 * process of its own, and the README quoting the example as it is.
 */
class UpperCaseServiceExampleTest {

    private static final List<String> QUOTED = List.of("UpperCaseBackend.java", "UpperCaseClient.java");

    @TempDir
    Path dir;

    private Process child;

    @AfterEach
    void stopChild() throws InterruptedException {
        if (child != null) {
            child.destroyForcibly();
            child.waitFor(10, TimeUnit.SECONDS);
        }
    }

    private Path backendPipe() {
        return dir.resolve("upper").resolve("backend.sock");
    }

    private Path handoffEndpoint() {
        return dir.resolve("upper").resolve("handoff.sock");
    }

    private Path brokerSocket() {
        return dir.resolve("broker").resolve("broker.sock");
    }

    /** The broker application with the service upper at the example's endpoints, and {@code args} on top. */
    private ConfigurableApplicationContext startBroker(String... args) {
        List<String> all = new ArrayList<>(List.of("--server.port=0", "--broker.socket-path=" + brokerSocket(),
                "--broker.demo.enabled=false", "--broker.services[0].name=upper",
                "--broker.services[0].version=1.0.0", "--broker.services[0].backend-endpoint=" + backendPipe(),
                "--broker.services[0].handoff-endpoint=" + handoffEndpoint()));
        all.addAll(List.of(args));
        return new SpringApplicationBuilder(HandoffBrokerApplication.class).run(all.toArray(String[]::new));
    }

    @Test
    void aClientThatAsksForAHandoffIsHandedToTheBackendAndOneThatDoesNotReconnects() throws Exception {
        try (BackendServer backend = UpperCaseBackend.start(backendPipe(), handoffEndpoint());
                ConfigurableApplicationContext broker = startBroker()) {
            BrokerClient handingOff = new BrokerClient(brokerSocket());
            assertThat(UpperCaseClient.ask(handingOff, "hello through the handoff"))
                    .isEqualTo(new Answer("HELLO THROUGH THE HANDOFF", Route.HANDED_OFF, ""));

            BrokerClient reconnecting = new BrokerClient(brokerSocket(), BrokerClient.DEFAULT_REPLY_TIMEOUT,
                    BrokerClient.DEFAULT_RELAY_WAIT, false);
            assertThat(UpperCaseClient.ask(reconnecting, "hello through backend_pipe"))
                    .isEqualTo(new Answer("HELLO THROUGH BACKEND_PIPE", Route.RECONNECTED, ""));
        }
    }

    @Test
    void theBrokersProbesReachTheHandlerAsConnectionsThatCloseWithoutAByte() throws Exception {
        BlockingQueue<Integer> firstBytes = new LinkedBlockingQueue<>();
        StreamHandler recording = (in, out) -> firstBytes.add(in.read());
        try (BackendServer backend = new BackendServer(backendPipe(), Optional.of(handoffEndpoint()), recording, 64)
                .start();
                ConfigurableApplicationContext broker = startBroker("--broker.backend-probe.interval=200ms")) {
            // No client connects: the start-up probe, then one every interval.
            for (int probe = 0; probe < 3; probe++) {
                assertThat(firstBytes.poll(5, TimeUnit.SECONDS)).as("probe %d: end of stream at once", probe)
                        .isEqualTo(-1);
            }
        }
    }

    @Test
    void theBackendsMainServesUntilSigtermThenRemovesItsSocketFiles() throws Exception {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Path log = dir.resolve("backend.log");
        child = new ProcessBuilder(java.toString(), "--enable-native-access=ALL-UNNAMED", "-Xmx64m", "-cp",
                System.getProperty("java.class.path"), UpperCaseBackend.class.getName(), backendPipe().toString(),
                handoffEndpoint().toString()).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (child.isAlive() && !(Files.exists(backendPipe()) && Files.exists(handoffEndpoint()))
                && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertThat(child.isAlive()).as("backend running; its output: %s", Files.readString(log)).isTrue();
        assertThat(backendPipe()).exists();
        assertThat(handoffEndpoint()).exists();

        try (ConfigurableApplicationContext broker = startBroker()) {
            assertThat(UpperCaseClient.ask(new BrokerClient(brokerSocket()), "across processes"))
                    .isEqualTo(new Answer("ACROSS PROCESSES", Route.HANDED_OFF, ""));
        }
        assertThat(child.isAlive()).as("main keeps the JVM running").isTrue();

        child.destroy(); // SIGTERM
        assertThat(child.waitFor(10, TimeUnit.SECONDS)).as("backend ended").isTrue();
        assertThat(child.exitValue()).as("a JVM ended by SIGTERM; output: %s", Files.readString(log)).isEqualTo(143);
        assertThat(backendPipe()).as("the shutdown hook closed the server").doesNotExist();
        assertThat(handoffEndpoint()).doesNotExist();
    }

    @Test
    void theReadmeQuotesTheExampleAsItIsAndTheExampleUsesTheSdksAlone() throws IOException {
        String readme = Files.readString(Path.of("README.md"));
        for (String file : QUOTED) {
            String source = Files.readString(Path.of("src/test/java/io/handoffbroker/examples", file));
            String quoted = source.substring(source.indexOf('\n', source.indexOf("package ")) + 1).strip();
            assertThat(readme.contains(quoted))
                    .as("the README quotes %s as it is, from its imports to its end: quote it again", file).isTrue();
            assertThat(source.lines().filter(line -> line.startsWith("import ")))
                    .as("%s imports the SDKs and the JDK only, as the sdk jar offers them", file)
                    .allMatch(line -> line.matches("import (java|io\\.handoffbroker\\.(backend|client))\\..*"));
        }
    }
}
