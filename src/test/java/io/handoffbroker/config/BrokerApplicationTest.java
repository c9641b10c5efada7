package io.handoffbroker.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.handoffbroker.HandoffBrokerApplication;
import io.handoffbroker.backend.BackendServer;
import io.handoffbroker.client.BrokerClient;
import io.handoffbroker.client.Route;
import io.handoffbroker.client.ServiceConnection;
import io.handoffbroker.demo.EchoHandler;
import io.handoffbroker.server.BrokerEvents;
import io.handoffbroker.server.BrokerServer;
import io.handoffbroker.server.ClientConnection;
import io.handoffbroker.unix.ProcessUser;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.function.Predicate;
import java.util.stream.Stream;
import org.assertj.core.api.AbstractThrowableAssert;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.springframework.boot.availability.ApplicationAvailability;
import org.springframework.boot.availability.LivenessState;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.context.ApplicationListener;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Primary;
import org.springframework.context.event.ContextRefreshedEvent;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/** The application as operators run it: defaults, overrides, validation, actuator. */
class BrokerApplicationTest {

    private static final JsonMapper JSON = JsonMapper.builder().build();

    @TempDir
    Path dir;

    private ConfigurableApplicationContext start(String... args) {
        return new SpringApplicationBuilder(HandoffBrokerApplication.class).run(args);
    }

    /** What a start with {@code args}, on any port and a socket path of its own, fails with. */
    private AbstractThrowableAssert<?, ? extends Throwable> startupFailure(String... args) {
        String[] all = Stream.concat(Stream.of("--server.port=0",
                "--broker.socket-path=" + dir.resolve("b/broker.sock")), Stream.of(args)).toArray(String[]::new);
        return assertThatThrownBy(() -> start(all).close());
    }

    @Test
    void withNoServicesConfiguredTheDemoEchoServiceIsHandedOffAndObservable() throws Exception {
        Path socket = dir.resolve("b").resolve("broker.sock");
        try (ConfigurableApplicationContext context = start("--server.port=0",
                "--broker.socket-path=" + socket)) {
            try (ServiceConnection connection = new BrokerClient(socket).connect("echo", "1.0.0")) {
                assertThat(connection.route()).isEqualTo(Route.HANDED_OFF);
                connection.out().write("hi".getBytes(StandardCharsets.UTF_8));
                connection.out().flush();
                assertThat(connection.in().readNBytes(2)).isEqualTo("hi".getBytes(StandardCharsets.UTF_8));
            }
            int port = port(context);
            JsonNode health = JSON.readTree(get(port, "/actuator/health"));
            assertThat(health.at("/components/broker/status").asString()).as("broker").isEqualTo("UP");
            assertThat(health.at("/components/broker/details/socketPath").asString()).isEqualTo(socket.toString());
            assertThat(health.at("/components/broker/details/accepting").asBoolean()).isTrue();
            assertThat(health.at("/components/broker/details/draining").asBoolean()).isFalse();
            assertThat(health.at("/components/backends/status").asString()).as("backends").isEqualTo("UP");
            assertThat(health.at("/components/backends/details/echo@1.0.0").asString())
                    .startsWith("reachable; handoff on");
            assertThat(health.at("/status").asString()).isEqualTo("UP");
            String metrics = get(port, "/actuator/prometheus");
            assertThat(metrics)
                    .contains("running_process_broker_v1_hello_total{outcome=\"negotiated\",service=\"echo\",version=\"1.0.0\"} 1.0")
                    .contains("running_process_broker_v1_handoff_total{route=\"handed_off\",service=\"echo\"} 1.0")
                    .contains("running_process_broker_v1_handoff_acks_total{result=\"accepted\",service=\"echo\"} 1.0")
                    .contains("running_process_broker_v1_handoff_fallback_total{reason=\"backend_refused\",service=\"echo\"} 0.0");
            JsonNode status = JSON.readTree(get(port, "/actuator/broker"));
            assertThat(status.at("/schema_version").asInt()).isEqualTo(2);
            assertThat(status.at("/socket_file_present").asBoolean()).isTrue();
            assertThat(status.at("/backends/0/service").asString()).isEqualTo("echo");
            assertThat(status.at("/backends/0/handoff_endpoint_uids").toString())
                    .as("the demo's endpoint is pinned to the broker's own uid").isEqualTo("[" + ProcessUser.uid() + "]");
            assertThat(status.at("/backends/0/handoff_endpoint_failure").isNull()).as("it answers").isTrue();
            assertThat(status.at("/event_loop_waits_on").asString()).isIn("epoll", "selector");
            assertThat(status.at("/handoff_deliveries_queued").isIntegralNumber()).isTrue();
            assertThat(status.at("/handoff_deliveries_queued").asInt()).isZero();
            assertThat(status.at("/hello_memory_bytes").isIntegralNumber()).isTrue();
            assertThat(status.at("/hello_memory_bytes").asLong()).isZero();
            assertThat(status.at("/handoffs/echo/handed_off").isIntegralNumber()).as("a count").isTrue();
            assertThat(status.at("/handoffs/echo/handed_off").asLong()).isEqualTo(1);
            assertThat(status.at("/handoffs/echo/fallback").isIntegralNumber()).isTrue();
        }
        assertThat(Files.exists(socket)).as("socket file removed on shutdown").isFalse();
    }

    @Test
    void theStatusShowsHandoffCountsOncePerServiceNotOnEachOfItsVersions() throws Exception {
        Path socket = dir.resolve("b").resolve("broker.sock");
        try (ConfigurableApplicationContext context = start("--server.port=0", "--broker.socket-path=" + socket,
                "--broker.services[0].name=echo", "--broker.services[0].version=2.0.0",
                "--broker.services[0].backend-endpoint=" + dir.resolve("v2.sock"))) {
            try (ServiceConnection connection = new BrokerClient(socket).connect("echo", "1.0.0")) {
                assertThat(connection.route()).isEqualTo(Route.HANDED_OFF);
            }
            JsonNode status = JSON.readTree(get(port(context), "/actuator/broker"));
            assertThat(status.at("/backends").size()).as("echo 1.0.0 (the demo) and 2.0.0").isEqualTo(2);
            for (JsonNode backend : status.at("/backends")) {
                assertThat(backend.has("handoffs")).as("no count per backend: %s", backend).isFalse();
            }
            assertThat(status.at("/handoffs").propertyNames()).containsExactly("echo");
            assertThat(status.at("/handoffs/echo/handed_off").asLong()).isEqualTo(1);
            assertThat(status.at("/handoffs/echo/fallback").asLong()).isZero();
        }
    }

    @Test
    void theBrokerIsNotReadyOnceItsSocketFileIsGone() throws Exception {
        Path socket = dir.resolve("b").resolve("broker.sock");
        try (ConfigurableApplicationContext context = start("--server.port=0", "--broker.socket-path=" + socket)) {
            int port = port(context);
            assertThat(JSON.readTree(get(port, "/actuator/health/readiness")).at("/status").asString())
                    .isEqualTo("UP");
            Files.delete(socket); // as a cleaner of temporary files would: no new client can find the broker
            JsonNode readiness = JSON.readTree(get(port, "/actuator/health/readiness"));
            assertThat(readiness.at("/status").asString()).isEqualTo("DOWN");
            assertThat(readiness.at("/components/broker/details/socketFilePresent").isBoolean()).isTrue();
            assertThat(readiness.at("/components/broker/details/socketFilePresent").asBoolean()).isFalse();
            JsonNode status = JSON.readTree(get(port, "/actuator/broker"));
            assertThat(status.at("/socket_file_present").isBoolean()).isTrue();
            assertThat(status.at("/socket_file_present").asBoolean()).isFalse();
            // Liveness follows within a second: ListenerReachabilityTest.
        }
    }

    @Test
    void atTheConnectionLimitTheBrokerStaysUpAndSaysSo() throws Exception {
        Path socket = dir.resolve("b").resolve("broker.sock");
        try (ConfigurableApplicationContext context = start("--server.port=0", "--broker.socket-path=" + socket,
                "--broker.max-connections=1", "--broker.hello-timeout=30s");
                AFUNIXSocket idle = AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(socket))) {
            int port = port(context);
            JsonNode broker = awaitJson(port, "/actuator/health/broker",
                    health -> health.at("/details/atConnectionLimit").asBoolean());
            assertThat(broker.at("/details/atConnectionLimit").asBoolean()).isTrue();
            assertThat(broker.at("/details/accepting").isBoolean()).isTrue();
            assertThat(broker.at("/details/accepting").asBoolean()).isFalse();
            assertThat(broker.at("/status").asString()).as("back-pressure, not a fault").isEqualTo("UP");
            assertThat(JSON.readTree(get(port, "/actuator/health/readiness")).at("/status").asString())
                    .isEqualTo("UP");
        }
    }

    @Test
    void aSocketFileThatComesBackDoesNotMakeABrokerWhoseLoopFailedLiveAgain() throws Exception {
        // The watch and the loop report from threads of their own; in whatever order, once the loop
        // failed only a restart helps. Driven here as the two threads would, in the worst order.
        Path socket = dir.resolve("b").resolve("broker.sock");
        try (ConfigurableApplicationContext context = start("--server.port=0", "--broker.socket-path=" + socket)) {
            BrokerLifecycle lifecycle = context.getBean(BrokerLifecycle.class);
            ApplicationAvailability availability = context.getBean(ApplicationAvailability.class);
            lifecycle.socketFileIsBack();
            assertThat(availability.getLivenessState()).as("no loop failed: back is live").isEqualTo(
                    LivenessState.CORRECT);
            lifecycle.loopFailed();
            lifecycle.socketFileIsBack();
            assertThat(availability.getLivenessState()).isEqualTo(LivenessState.BROKEN);
        }
    }

    @Test
    void aBrokerWhoseEventLoopFailedIsNoLongerLive() throws Exception {
        Path socket = dir.resolve("b").resolve("broker.sock");
        try (ConfigurableApplicationContext context = new SpringApplicationBuilder(HandoffBrokerApplication.class,
                LoopKillingEvents.class).run("--server.port=0", "--broker.socket-path=" + socket);
                AFUNIXSocket client = AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(socket))) {
            int port = port(context);
            JsonNode liveness = awaitJson(port, "/actuator/health/liveness",
                    health -> health.at("/status").asString().equals("DOWN"));
            assertThat(liveness.at("/status").asString()).as("only a restart brings the loop back").isEqualTo("DOWN");
            assertThat(JSON.readTree(get(port, "/actuator/health/readiness")).at("/status").asString())
                    .isEqualTo("DOWN");
        }
    }

    /** Events whose first callback throws an error the event loop cannot survive, as a bug would. */
    @Configuration(proxyBeanMethods = false)
    static class LoopKillingEvents {

        @Bean
        @Primary
        BrokerEvents loopKillingEvents() {
            return new BrokerEvents() {
                @Override
                public void connectionOpened(ClientConnection connection) {
                    throw new AssertionError("an error no connection can be blamed for");
                }
            };
        }
    }

    @Test
    void aLoopThatFailsBeforeTheApplicationHasStartedIsNotDeclaredLiveBySpringBoot() throws Exception {
        // Spring Boot declares liveness CORRECT once the context is refreshed, after the broker started.
        Path socket = dir.resolve("b").resolve("broker.sock");
        try (ConfigurableApplicationContext context = new SpringApplicationBuilder(HandoffBrokerApplication.class,
                LoopKillingEvents.class, KillTheLoopOnRefresh.class)
                .run("--server.port=0", "--broker.socket-path=" + socket)) {
            assertThat(context.getBean(BrokerServer.class).isListening()).as("the loop failed during start-up")
                    .isFalse();
            assertThat(context.getBean(ApplicationAvailability.class).getLivenessState())
                    .isEqualTo(LivenessState.BROKEN);
        }
    }

    @Configuration
    static class KillTheLoopOnRefresh {

        @Bean
        ApplicationListener<ContextRefreshedEvent> killTheLoop() {
            return refreshed -> {
                BrokerServer server = refreshed.getApplicationContext().getBean(BrokerServer.class);
                try (AFUNIXSocket client = AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(server.socketPath()))) {
                    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
                    while (server.isListening() && System.nanoTime() < deadline) {
                        Thread.onSpinWait();
                    }
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            };
        }
    }

    @Test
    void anInvalidServiceNameFailsStartupNamingTheKey() {
        startupFailure("--broker.services[0].name=Echo", "--broker.services[0].version=1.0.0",
                "--broker.services[0].backend-endpoint=" + dir.resolve("x.sock"))
                .hasStackTraceContaining("broker.services[0].name");
    }

    @Test
    void aPendingTokenLimitTooLargeToAllocateFailsStartupNamingTheSettingAndItsBound() {
        // Unbounded, the delivery queue allocated at this size ended start-up in an OutOfMemoryError.
        startupFailure("--broker.handoff.max-pending-tokens=2147483647")
                .hasStackTraceContaining("handoff.maxPendingTokens").hasStackTraceContaining("1048576")
                .isNotInstanceOf(OutOfMemoryError.class);
    }

    @Test
    void aDurationTooLongForTheClockFailsStartupNamingTheKey() {
        // Unchecked, it overflowed the nanosecond arithmetic: an ArithmeticException that named nothing.
        startupFailure("--broker.hello-timeout=200000d")
                .hasStackTraceContaining("helloTimeout").isNotInstanceOf(ArithmeticException.class);
    }

    @Test
    void aSocketPathTooLongForAUnixSocketAddressFailsStartupNamingTheKey() {
        // 99 bytes fit the broker's own socket, but not the demo's sockets next to it: junixsocket
        // cut their paths short without a word, and the broker failed with "No such file or directory".
        Path longDirectory = dir.resolve("d".repeat(Math.max(1, 99 - dir.toString().length() - "/broker.sock".length()
                - 1)));
        Path socket = longDirectory.resolve("broker.sock");
        assertThatThrownBy(() -> start("--server.port=0", "--broker.socket-path=" + socket).close())
                .hasStackTraceContaining("broker.demo.directory").hasStackTraceContaining("at most 107");
        startupFailure("--broker.demo.enabled=false", "--broker.services[0].name=svc",
                "--broker.services[0].version=1.0.0",
                "--broker.services[0].backend-endpoint=" + dir.resolve("x".repeat(120)))
                .hasStackTraceContaining("broker.services[0].backend-endpoint").hasStackTraceContaining("at most 107");
    }

    @Test
    void anEntryItsOwnServicesVersionPolicyBlocksFailsStartupNamingBothKeys() {
        // Allow-lists read as per entry: together they would block every Hello for the service.
        startupFailure("--broker.demo.enabled=false",
                "--broker.services[0].name=svc", "--broker.services[0].version=1.0.0",
                "--broker.services[0].backend-endpoint=" + dir.resolve("x.sock"),
                "--broker.services[0].allowed-versions=1.0.0",
                "--broker.services[1].name=svc", "--broker.services[1].version=2.0.0",
                "--broker.services[1].backend-endpoint=" + dir.resolve("y.sock"),
                "--broker.services[1].allowed-versions=2.0.0")
                .hasStackTraceContaining("broker.services[0]: svc@1.0.0 could never be negotiated")
                .hasStackTraceContaining("broker.services[1]");
    }

    @Test
    void aDuplicateBackendFailsStartupNamingBothKeys() {
        startupFailure("--broker.demo.enabled=false",
                "--broker.services[0].name=echo", "--broker.services[0].version=1.0.0",
                "--broker.services[0].backend-endpoint=" + dir.resolve("x.sock"),
                "--broker.services[1].name=echo", "--broker.services[1].version=1.0.0",
                "--broker.services[1].backend-endpoint=" + dir.resolve("y.sock"))
                .hasStackTraceContaining("broker.services[1]").hasStackTraceContaining("broker.services[0]");
    }

    @Test
    void aHandoffEndpointUidThatIsNoUidFailsStartupNamingTheKey() {
        for (String notAUid : new String[] {"-1", "4294967295"}) {
            startupFailure("--broker.demo.enabled=false",
                    "--broker.services[0].name=svc", "--broker.services[0].version=1.0.0",
                    "--broker.services[0].backend-endpoint=" + dir.resolve("x.sock"),
                    "--broker.services[0].handoff-endpoint=" + dir.resolve("h.sock"),
                    "--broker.services[0].handoff-endpoint-uids=1000," + notAUid)
                    // Spring names nested keys in camel case; the message names the key as it is written.
                    .hasStackTraceContaining("broker.services[0].handoffEndpointUids[1]")
                    .hasStackTraceContaining("must be a uid, 0 to 4294967294 (handoff-endpoint-uids)");
        }
    }

    @Test
    void anAllowedPeerUidThatIsNoUidFailsStartupNamingTheKey() {
        for (String notAUid : new String[] {"-1", "4294967295"}) {
            startupFailure("--broker.peer.policy=allow-list", "--broker.peer.allowed-uids=1000," + notAUid)
                    .hasStackTraceContaining("broker.peer.allowedUids[1]")
                    .hasStackTraceContaining("must be a uid, 0 to 4294967294 (allowed-uids)");
        }
    }

    @Test
    void handoffEndpointUidsWithoutAHandoffEndpointFailStartupNamingTheKeys() {
        startupFailure("--broker.demo.enabled=false",
                "--broker.services[0].name=svc", "--broker.services[0].version=1.0.0",
                "--broker.services[0].backend-endpoint=" + dir.resolve("x.sock"),
                "--broker.services[0].handoff-endpoint-uids=1000")
                .hasStackTraceContaining("broker.services[0]")
                .hasStackTraceContaining("handoff-endpoint-uids is set but no handoff-endpoint is set");
    }

    @Test
    void entriesSharingAHandoffEndpointThatAllowOtherUidsThereFailStartupNamingBothKeys() {
        // One listener runs as one user: one of them would hand connections where the other refuses.
        startupFailure("--broker.demo.enabled=false",
                "--broker.services[0].name=svc", "--broker.services[0].version=1.0.0",
                "--broker.services[0].backend-endpoint=" + dir.resolve("x.sock"),
                "--broker.services[0].handoff-endpoint=" + dir.resolve("h.sock"),
                "--broker.services[0].handoff-endpoint-uids=1000",
                "--broker.services[1].name=svc", "--broker.services[1].version=2.0.0",
                "--broker.services[1].backend-endpoint=" + dir.resolve("y.sock"),
                "--broker.services[1].handoff-endpoint=" + dir.resolve("h.sock"))
                .hasStackTraceContaining("broker.services[1].handoff-endpoint-uids: any uid at handoff-endpoint "
                        + dir.resolve("h.sock") + ", where broker.services[0] allows uids [1000]");
    }

    @Test
    void aMisspeltKeyFailsStartupNamingIt() {
        startupFailure("--broker.hello-timout=10s", "--broker.handoff.ack-deadlin=1s")
                .hasStackTraceContaining("unknown configuration key").hasStackTraceContaining("broker.hello-timout")
                .hasStackTraceContaining("broker.handoff.ack-deadlin");
    }

    @Test
    void aBrokerWithNoServiceAndTheDemoOffFailsStartupSayingSo() {
        startupFailure("--broker.demo.enabled=false")
                .hasStackTraceContaining("no service to broker").hasStackTraceContaining("broker.services");
    }

    @Test
    void aLiveBrokerAtTheSocketPathFailsTheSecondStartup() {
        Path socket = dir.resolve("b").resolve("broker.sock");
        try (ConfigurableApplicationContext first = start("--server.port=0", "--broker.socket-path=" + socket,
                "--broker.demo.directory=" + dir.resolve("d1"))) {
            assertThatThrownBy(() -> start("--server.port=0", "--broker.socket-path=" + socket,
                    "--broker.demo.directory=" + dir.resolve("d2")).close())
                    .hasStackTraceContaining("a live listener already answers at " + socket);
        }
    }

    @Test
    void aLiveListenerInTheDemoDirectoryFailsStartupNamingTheDemoDirectorySetting() throws Exception {
        Path demo = Files.createDirectories(dir.resolve("demo"));
        Path taken = demo.resolve("echo-backend.sock");
        try (AFUNIXServerSocket live = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(taken), false)) {
            startupFailure("--broker.demo.directory=" + demo)
                    .hasStackTraceContaining("a live listener already answers at " + taken
                            + "; is another broker's demo backend running? Stop it or choose another "
                            + "broker.demo.directory")
                    .satisfies(e -> assertThat(stackTrace(e)).doesNotContain("backend_pipe"));
        }
    }

    @Test
    void aDemoDirectoryOwnedByAnotherUserFailsStartupNamingItsOwnerAndTheDemoDirectorySetting() throws Exception {
        Assumptions.assumeTrue(ProcessUser.uid() == ProcessUser.ROOT,
                "giving a directory to another uid needs root; this JVM runs as uid " + ProcessUser.uid());
        Path demo = Files.createDirectories(dir.resolve("demo"));
        Files.setPosixFilePermissions(demo, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.setAttribute(demo, "unix:uid", 4242);

        startupFailure("--broker.demo.directory=" + demo)
                .hasStackTraceContaining("socket directory " + demo + " is owned by uid 4242")
                .hasStackTraceContaining("choose another broker.demo.directory");
        assertThat(demo.resolve("echo-backend.sock")).doesNotExist();
    }

    private static String stackTrace(Throwable e) {
        StringWriter out = new StringWriter();
        e.printStackTrace(new PrintWriter(out));
        return out.toString();
    }

    @Test
    void aHandoffEndpointThatIsDownShowsInTheBackendsHealthWithoutTurningItDown() throws Exception {
        Path pipe = dir.resolve("svc").resolve("pipe.sock");
        Path missingHandoff = dir.resolve("svc").resolve("handoff.sock");
        try (BackendServer backend = new BackendServer(pipe, new EchoHandler(), 4).start();
                ConfigurableApplicationContext context = start("--server.port=0",
                        "--broker.socket-path=" + dir.resolve("b").resolve("broker.sock"),
                        "--broker.demo.enabled=false", "--broker.backend-probe.interval=100ms",
                        "--broker.services[0].name=svc", "--broker.services[0].version=2.0.0",
                        "--broker.services[0].backend-endpoint=" + pipe,
                        "--broker.services[0].handoff-endpoint=" + missingHandoff)) {
            int port = port(context);
            String health = await(port, "/actuator/health/backends", body -> body.contains("unreachable"));
            assertThat(health).contains("\"status\":\"UP\"")
                    .contains("svc@2.0.0").contains("handoff endpoint unreachable: SocketException")
                    .contains("; clients reconnect");
        }
    }

    /** The JSON at {@code path} once {@code until} holds for it, or as it is after 5 s. */
    private static JsonNode awaitJson(int port, String path, Predicate<JsonNode> until) throws Exception {
        return JSON.readTree(await(port, path, body -> until.test(JSON.readTree(body))));
    }

    /** The document at {@code path} once {@code until} holds for it, or as it is after 5 s. */
    private static String await(int port, String path, Predicate<String> until) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        String body = get(port, path);
        while (!until.test(body) && System.nanoTime() - deadline < 0) {
            Thread.sleep(100);
            body = get(port, path);
        }
        return body;
    }

    private static int port(ConfigurableApplicationContext context) {
        return ((WebServerApplicationContext) context).getWebServer().getPort();
    }

    private static String get(int port, String path) throws Exception {
        try (HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build()) {
            return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                    .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString()).body();
        }
    }
}
