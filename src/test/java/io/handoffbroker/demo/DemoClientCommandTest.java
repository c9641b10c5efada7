package io.handoffbroker.demo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.handoffbroker.backend.BackendServer;
import io.handoffbroker.backend.StreamHandler;
import io.handoffbroker.negotiation.ServiceBackend;
import io.handoffbroker.server.PeerPolicy;
import io.handoffbroker.testing.BrokerFixture;
import io.handoffbroker.testing.HandoffFixture;
import io.handoffbroker.unix.ProcessUser;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/**
 * The demo client against a real broker and echo backend on real sockets: what it prints
 * on each route and on a refusal, that every line reads back as key=value fields, that the
 * README shows what it prints, and that a usage error sends nothing and exits 2.
 */
class DemoClientCommandTest {

    // A field: key=value, the value bare or in double quotes with \" and \\ inside.
    private static final Pattern FIELD = Pattern.compile("([a-z_]+)=(\"((?:[^\"\\\\]|\\\\.)*)\"|[^ \"\\\\]+)(?: |$)");

    @TempDir
    Path dir;

    /** What one run printed, and its exit status. */
    private record Run(int status, String out, String err) {

        List<String> lines() {
            return out.lines().toList();
        }
    }

    private static Run run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status;
        try (PrintStream o = new PrintStream(out, true, StandardCharsets.UTF_8);
                PrintStream e = new PrintStream(err, true, StandardCharsets.UTF_8)) {
            status = DemoClientCommand.run(o, e, args);
        }
        return new Run(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    /** The fields of a line, values unquoted; fails when the line is not fields separated by one space. */
    private static Map<String, String> fields(String line) {
        Map<String, String> fields = new LinkedHashMap<>();
        Matcher m = FIELD.matcher(line);
        int at = 0;
        while (at < line.length()) {
            assertThat(m.find(at) && m.start() == at).as("a key=value field at %d of %s", at, line).isTrue();
            String value = m.group(3) != null ? m.group(3).replaceAll("\\\\(.)", "$1") : m.group(2);
            assertThat(fields.put(m.group(1), value)).as("%s once in %s", m.group(1), line).isNull();
            at = m.end();
        }
        return fields;
    }

    @Test
    void aHandedOffConnectionPrintsTheRouteAndTheEchoAsFields() throws Exception {
        Path backendPipe = dir.resolve("echo").resolve("backend.sock");
        Path handoffEndpoint = dir.resolve("echo").resolve("handoff.sock");
        try (BackendServer backend = new BackendServer(backendPipe, Optional.of(handoffEndpoint), new EchoHandler(),
                16).start();
                HandoffFixture broker = new HandoffFixture(dir)
                        .service(HandoffFixture.handoffService(backendPipe, handoffEndpoint)).start()) {
            Run run = run("--socket", broker.socketPath().toString(), "--version", HandoffFixture.VERSION);

            assertThat(run.status()).as("%s", run).isZero();
            assertThat(run.err()).isEmpty();
            assertThat(run.lines()).hasSize(2);
            Map<String, String> route = fields(run.lines().get(0));
            assertThat(route).containsExactly(Map.entry("route", "handed-off"),
                    Map.entry("service", "echo@" + HandoffFixture.VERSION),
                    Map.entry("connection_id", route.get("connection_id")),
                    Map.entry("backend_pipe", backendPipe.toString()));
            assertThat(route.get("connection_id")).containsOnlyDigits();
            Map<String, String> echo = fields(run.lines().get(1));
            assertThat(echo).containsOnlyKeys("echo", "connect_us", "echo_rtt_us", "total_us")
                    .containsEntry("echo", "hello through handoff-broker");
            assertThat(run.lines().get(1)).startsWith("echo=\"hello through handoff-broker\" connect_us=");
        }
    }

    @Test
    void aFallbackReasonWithSpacesAndAnEchoWithQuotesReadBackAsOneValueEach() throws Exception {
        Path backendPipe = dir.resolve("echo").resolve("backend.sock");
        try (BackendServer backend = new BackendServer(backendPipe, new EchoHandler(), 16).start();
                BrokerFixture broker = new BrokerFixture(dir)
                        .service(ServiceBackend.reconnectOnly("echo", "1.0.0", backendPipe)).start()) {
            String message = "say \"hi\" \\ ok";
            Run run = run("--socket", broker.socketPath().toString(), message);

            assertThat(run.status()).as("%s", run).isZero();
            assertThat(run.lines().get(0)).startsWith(
                    "route=reconnected fallback_reason=\"broker did not offer a handoff\" service=echo@1.0.0 ");
            assertThat(fields(run.lines().get(0))).containsEntry("fallback_reason", "broker did not offer a handoff")
                    .containsEntry("backend_pipe", backendPipe.toString());
            assertThat(run.lines().get(1)).startsWith("echo=\"say \\\"hi\\\" \\\\ ok\" ");
            assertThat(fields(run.lines().get(1))).containsEntry("echo", message);
        }
    }

    @Test
    void aRefusalPrintsTheProtocolsCodeNameAndExits3AsTheReadmeShows() throws Exception {
        String readme = Files.readString(Path.of("README.md"));
        try (BrokerFixture broker = new BrokerFixture(dir)
                .service(ServiceBackend.reconnectOnly("echo", "1.0.0", dir.resolve("backend.sock"))).start()) {
            Run missingVersion = run("--socket", broker.socketPath().toString(), "--version", "2.0.0");
            Run unknownService = run("--socket", broker.socketPath().toString(), "--service", "nope");

            for (Run run : List.of(missingVersion, unknownService)) {
                assertThat(run.status()).as("%s", run).isEqualTo(DemoClientCommand.EXIT_REFUSED).isEqualTo(3);
                assertThat(run.lines()).hasSize(1);
                assertThat(run.out()).startsWith("refused ");
                assertThat(fields(run.lines().getFirst().substring("refused ".length())))
                        .containsOnlyKeys("code", "reason", "retry_after_ms");
                assertThat(readme).as("the README shows what is printed").contains(run.lines().getFirst());
            }
            assertThat(missingVersion.out()).startsWith("refused code=BACKEND_SPAWN_FAILED reason=\"");
            assertThat(unknownService.out()).startsWith("refused code=SERVICE_UNKNOWN reason=\"");
        }
    }

    @Test
    void aUsageErrorPrintsTheUsageToStandardErrorExits2AndSendsNothing() throws Exception {
        Path socket = dir.resolve("listener.sock");
        try (AFUNIXServerSocket listener = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(socket))) {
            listener.setSoTimeout(300);
            String path = socket.toString();
            for (String[] args : List.of(new String[] {"--socket", path, "--bogus"},
                    new String[] {"--socket", path, "-x", "message"}, new String[] {"--socket", path, "one", "two"},
                    new String[] {"--socket", path, "--service"}, new String[] {"--socket"})) {
                Run run = run(args);
                assertThat(run.status()).as("%s: %s", List.of(args), run).isEqualTo(DemoClientCommand.EXIT_USAGE)
                        .isEqualTo(2);
                assertThat(run.out()).as("%s", List.of(args)).isEmpty();
                assertThat(run.err()).as("%s", List.of(args)).startsWith("demo-client: ")
                        .endsWith(DemoClientCommand.USAGE + System.lineSeparator());
            }
            assertThat(run("--socket", path, "--bogus").err()).contains("unknown option --bogus");
            assertThatThrownBy(() -> listener.accept().close()).as("nothing connected")
                    .isInstanceOf(SocketTimeoutException.class);
        }
        String readme = Files.readString(Path.of("README.md"));
        assertThat(readme).as("the README's options are the usage")
                .contains("Options: `" + DemoClientCommand.USAGE.substring("usage: ".length()) + "`");
    }

    @Test
    void helpPrintsTheUsageAndExits0() {
        Run run = run("--help");
        assertThat(run.status()).isZero();
        assertThat(run.out()).isEqualTo(DemoClientCommand.USAGE + System.lineSeparator());
        assertThat(run.err()).isEmpty();
    }

    @Test
    void aMessageThatLooksLikeAnOptionIsSentAfterTheEndOfOptions() throws Exception {
        Path backendPipe = dir.resolve("echo").resolve("backend.sock");
        try (BackendServer backend = new BackendServer(backendPipe, new EchoHandler(), 16).start();
                BrokerFixture broker = new BrokerFixture(dir)
                        .service(ServiceBackend.reconnectOnly("echo", "1.0.0", backendPipe)).start()) {
            Run run = run("--socket", broker.socketPath().toString(), "--", "--bogus");
            assertThat(run.status()).as("%s", run).isZero();
            assertThat(fields(run.lines().get(1))).containsEntry("echo", "--bogus");
        }
    }

    @Test
    void noBrokerAtTheSocketIsSaidWithItsPathAndExits1() throws Exception {
        Path nothing = dir.resolve("nothing.sock");
        Path stale = dir.resolve("stale.sock");
        AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(stale), false).close(); // the file stays, nobody listens
        for (Path socket : List.of(nothing, stale)) {
            Run run = run("--socket", socket.toString());
            assertThat(run.status()).as("%s", run).isEqualTo(DemoClientCommand.EXIT_FAILED);
            assertThat(run.out()).startsWith("failed: no broker at " + socket + ": ")
                    .endsWith("(is the broker running there? --socket chooses another path)" + System.lineSeparator());
        }
        Run tooLong = run("--socket", dir.resolve("d".repeat(120)).toString());
        assertThat(tooLong.status()).isEqualTo(DemoClientCommand.EXIT_FAILED);
        assertThat(tooLong.out()).startsWith("failed: --socket " + dir.resolve("d".repeat(120)) + " is ")
                .contains("bytes long; a Unix socket address holds at most 107");
    }

    @Test
    void aBackendThatDoesNotEchoIsTheBackendsFailureOnTheRouteTakenNotTheBrokers() throws Exception {
        Path backendPipe = dir.resolve("echo").resolve("backend.sock");
        StreamHandler readsAndCloses = (in, out) -> in.readNBytes(3);
        try (BackendServer backend = new BackendServer(backendPipe, readsAndCloses, 16).start();
                BrokerFixture broker = new BrokerFixture(dir)
                        .service(ServiceBackend.reconnectOnly("echo", "1.0.0", backendPipe)).start()) {
            Run run = run("--socket", broker.socketPath().toString(), "abc");
            assertThat(run.status()).as("%s", run).isEqualTo(DemoClientCommand.EXIT_FAILED);
            assertThat(run.out()).isEqualTo("failed: no echo from the backend (route=reconnected): "
                    + "backend closed after 0 of 3 echoed bytes" + System.lineSeparator());
        }
    }

    @Test
    void aBrokerWhosePeerPolicyKeepsThisUserOutIsSaidToHaveClosedWithoutAReply() throws Exception {
        long stranger = ProcessUser.uid() + 12345;
        try (BrokerFixture broker = new BrokerFixture(dir).peerPolicy(new PeerPolicy.AllowedUids(Set.of(stranger)))
                .service(ServiceBackend.reconnectOnly("echo", "1.0.0", dir.resolve("backend.sock"))).start()) {
            // The broker closes as it accepts; the Hello's write or the reply's read sees it, whichever
            // comes first: a broken pipe, a reset or the end of the stream, all said the same way.
            for (int i = 0; i < 5; i++) {
                Run run = run("--socket", broker.socketPath().toString());
                assertThat(run.status()).as("%s", run).isEqualTo(DemoClientCommand.EXIT_FAILED);
                assertThat(run.out()).isEqualTo("failed: the broker at " + broker.socketPath() + " closed the"
                        + " connection without a reply: its peer policy (broker.peer.policy) may not admit this"
                        + " process's uid " + ProcessUser.uid() + " (it logs each uid it rejects), or it stopped"
                        + System.lineSeparator());
            }
        }
    }

    @Test
    void somethingThatIsNotABrokerAtTheSocketIsSaidSoWithoutClassNames() throws Exception {
        Path socket = dir.resolve("not-a-broker.sock");
        try (AFUNIXServerSocket server = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(socket), true)) {
            Thread answering = Thread.ofPlatform().daemon().start(() -> {
                try (var peer = server.accept()) {
                    peer.getInputStream().readNBytes(5);
                    peer.getOutputStream().write("HTTP/1.1 400 Bad Request\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                } catch (java.io.IOException ignored) {
                    // The client's failure is what is checked.
                }
            });
            Run run = run("--socket", socket.toString());
            answering.join(5_000);
            assertThat(run.status()).as("%s", run).isEqualTo(DemoClientCommand.EXIT_FAILED);
            assertThat(run.out()).startsWith("failed: the answer does not follow the broker's protocol: ")
                    .endsWith(" (broker at " + socket + ")" + System.lineSeparator())
                    .doesNotContain("java.").doesNotContain("Exception");
        }
    }

    @Test
    void aValueIsQuotedOnlyWhenItWouldNotReadBackAsOne() {
        assertThat(DemoClientCommand.value("/run/user/1000/x.sock")).isEqualTo("/run/user/1000/x.sock");
        assertThat(DemoClientCommand.value("/a b/x.sock")).isEqualTo("\"/a b/x.sock\"");
        assertThat(DemoClientCommand.value("")).isEqualTo("\"\"");
        assertThat(DemoClientCommand.value("a\"b")).isEqualTo("\"a\\\"b\"");
        assertThat(DemoClientCommand.value("a\\b")).isEqualTo("\"a\\\\b\"");
        assertThat(DemoClientCommand.value("a\u00a0b")).isEqualTo("\"a\u00a0b\"");
        assertThat(fields("k=" + DemoClientCommand.value("x \"y\" \\z") + " n=1"))
                .containsExactly(Map.entry("k", "x \"y\" \\z"), Map.entry("n", "1"));
    }
}
