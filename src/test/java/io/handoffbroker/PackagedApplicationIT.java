package io.handoffbroker;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The packaged application as operators start it, each in a process of its own: the
 * README's run command, and the container image's runtime stage as the Dockerfile
 * lays it out (its layer extraction, its copies, its entry point and its health check,
 * read from the Dockerfile itself). What only a container runtime adds, the base image
 * and the user the image creates, is not covered here.
 *
 * <p>Run by failsafe after {@code package}, against the jar that phase built.
 */
class PackagedApplicationIT {

    private static final Duration START = Duration.ofSeconds(90);
    private static final Duration DEMO = Duration.ofSeconds(60);
    private static final Duration STOP = Duration.ofSeconds(30);
    // The JVM's exit status after SIGTERM once its shutdown hooks ran: 128 + 15.
    private static final int EXIT_AFTER_SIGTERM = 143;
    private static final String LAUNCHER = "org.springframework.boot.loader.launch.JarLauncher";

    @TempDir
    Path dir;

    private final List<Process> started = new ArrayList<>();
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    @AfterEach
    void killWhatIsLeft() throws InterruptedException {
        for (Process process : started) {
            process.descendants().forEach(ProcessHandle::destroyForcibly);
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void theReadmeRunCommandServesTheDemoAndDrainsOnSigterm() throws Exception {
        Path socket = dir.resolve("broker.sock");
        int port = freePort();
        // The README's command, from the project's directory as the README runs it, with the
        // socket and the actuator moved out of the machine's way.
        Process broker = start(basedir(), dir.resolve("broker.log"), Map.of(), java(), "@config/jvm.options",
                "-jar", jar().toString(), "--broker.socket-path=" + socket, "--server.port=" + port);

        awaitReady(broker, dir.resolve("broker.log"), port);
        String demo = run(basedir(), java(), "-jar", jar().toString(), "demo-client", "--socket", socket.toString());
        assertThat(demo).contains("route=handed-off");

        String scrape = get(port, "/actuator/prometheus").body();
        assertThat(scrape).containsPattern(
                "running_process_broker_v1_handoff_acks_total\\{[^}]*result=\"accepted\"[^}]*} [1-9]");

        assertDrainsOnSigterm(broker, dir.resolve("broker.log"), socket);
    }

    @Test
    void theImageLayoutStartsFromTheDockerfileEntryPointAndPassesItsHealthCheck() throws Exception {
        Dockerfile dockerfile = Dockerfile.read(basedir().resolve("Dockerfile"));
        Path layers = dir.resolve("layers");
        Path app = dir.resolve("app");

        // The build stage's extraction, with its paths moved here.
        List<String> extract = new ArrayList<>(List.of(java()));
        for (String word : dockerfile.extraction()) {
            extract.add(word.replace("target/handoff-broker.jar", jar().toString()).replace("/layers", layers.toString()));
        }
        run(dir, extract.toArray(String[]::new));
        // The runtime stage's copies, merged into one directory as the image's layers are.
        for (String layer : dockerfile.layerCopies()) {
            copyTree(layers.resolve(layer), app);
        }
        dockerfile.fileCopies().forEach((from, to) -> copyFile(basedir().resolve(from), inApp(app, to)));
        assertThat(app.resolve("BOOT-INF/lib")).isDirectory();
        assertThat(app.resolve("config/application.yml")).exists();

        Path socket = dir.resolve("run").resolve("broker.sock");
        Files.createDirectories(socket.getParent());
        int port = freePort();
        List<String> entryPoint = dockerfile.entryPoint().stream()
                .map(word -> word.replace("/app/", app + "/")) // "@/app/jvm.options"
                .toList();
        assertThat(entryPoint).first().isEqualTo("java");
        assertThat(entryPoint).last().isEqualTo(LAUNCHER);
        List<String> command = new ArrayList<>(entryPoint);
        command.set(0, java());
        // The socket path is moved by environment, as an operator would; everything else is
        // the image's own configuration file, read from the working directory.
        Path log = dir.resolve("image.log");
        Process broker = start(app, log, Map.of("BROKER_SOCKET_PATH", socket.toString(), "SERVER_PORT",
                String.valueOf(port)), command.toArray(String[]::new));

        awaitReady(broker, log, port);
        Process check = new ProcessBuilder("bash", "-c", dockerfile.healthCheck().replace("8080", String.valueOf(port)))
                .redirectErrorStream(true).start();
        assertThat(check.waitFor(10, TimeUnit.SECONDS)).as("the health check ends").isTrue();
        assertThat(check.exitValue()).as("the image's health check: %s", output(check)).isZero();

        // The image's configuration binds the actuator to every interface of the container.
        Optional<InetAddress> external = nonLoopbackAddress();
        if (external.isPresent()) {
            try (Socket probe = new Socket()) {
                probe.connect(new InetSocketAddress(external.get(), port), 2_000);
                assertThat(probe.isConnected()).isTrue();
            }
        }

        // The demo client as the Dockerfile's comment runs it with docker exec, in the image's WORKDIR.
        String demo = run(app, java(), "--enable-native-access=ALL-UNNAMED", LAUNCHER, "demo-client", "--socket",
                socket.toString());
        assertThat(demo).contains("route=handed-off");

        assertDrainsOnSigterm(broker, log, socket);
    }

    // ---- the Dockerfile, as far as its runtime stage goes ----

    private record Dockerfile(List<String> extraction, List<String> layerCopies, Map<String, String> fileCopies,
            List<String> entryPoint, String healthCheck) {

        private static final Pattern EXTRACT = Pattern.compile("(?m)^RUN java (-Djarmode=tools .*)$");
        private static final Pattern LAYER = Pattern.compile("(?m)^COPY --from=build /layers/([a-z-]+)/ \\./$");
        private static final Pattern FILE = Pattern.compile("(?m)^COPY (config/\\S+) (/app/\\S+)$");
        private static final Pattern ENTRY = Pattern.compile("(?m)^ENTRYPOINT \\[(.*)]$");
        private static final Pattern HEALTH = Pattern.compile("(?m)^\\s+CMD bash -c '(.*)'$");

        static Dockerfile read(Path path) throws IOException {
            String text = Files.readString(path);
            List<String> layers = LAYER.matcher(text).results().map(m -> m.group(1)).toList();
            Map<String, String> files = new java.util.LinkedHashMap<>();
            FILE.matcher(text).results().forEach(m -> files.put(m.group(1), m.group(2)));
            List<String> entry = Pattern.compile("\"([^\"]*)\"").matcher(one(ENTRY, text)).results()
                    .map(m -> m.group(1)).toList();
            assertThat(layers).as("layer copies").isNotEmpty();
            assertThat(files).as("file copies").isNotEmpty();
            return new Dockerfile(List.of(one(EXTRACT, text).split(" ")), layers, files, entry, one(HEALTH, text));
        }

        private static String one(Pattern pattern, String text) {
            Matcher m = pattern.matcher(text);
            assertThat(m.find()).as("the Dockerfile has %s", pattern).isTrue();
            return m.group(1);
        }
    }

    // ---- processes ----

    private Process start(Path workingDirectory, Path log, Map<String, String> environment, String... command)
            throws IOException {
        ProcessBuilder builder = new ProcessBuilder(command).directory(workingDirectory.toFile())
                .redirectErrorStream(true).redirectOutput(log.toFile());
        builder.environment().putAll(environment);
        Process process = builder.start();
        started.add(process);
        return process;
    }

    /** Runs a command to its end and returns what it printed; it must succeed. */
    private String run(Path workingDirectory, String... command) throws Exception {
        Process process = new ProcessBuilder(command).directory(workingDirectory.toFile()).redirectErrorStream(true)
                .start();
        started.add(process);
        String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(process.waitFor(DEMO.toSeconds(), TimeUnit.SECONDS)).as("%s ends", List.of(command)).isTrue();
        assertThat(process.exitValue()).as("%s exit status; it printed:%n%s", List.of(command), out).isZero();
        return out;
    }

    private void awaitReady(Process broker, Path log, int port) throws Exception {
        long deadline = System.nanoTime() + START.toNanos();
        while (System.nanoTime() - deadline < 0) {
            if (!broker.isAlive()) {
                throw new AssertionError("the broker exited (" + broker.exitValue() + "); log:\n"
                        + Files.readString(log));
            }
            try {
                HttpResponse<String> readiness = get(port, "/actuator/health/readiness");
                if (readiness.statusCode() == 200 && readiness.body().contains("\"UP\"")) {
                    return;
                }
            } catch (IOException notYet) {
                // Not listening yet.
            }
            Thread.sleep(200);
        }
        throw new AssertionError("not ready within " + START + "; log:\n" + Files.readString(log));
    }

    private void assertDrainsOnSigterm(Process broker, Path log, Path socket) throws Exception {
        assertThat(socket).exists();
        broker.destroy(); // SIGTERM
        assertThat(broker.waitFor(STOP.toSeconds(), TimeUnit.SECONDS)).as("stopped after SIGTERM").isTrue();
        String printed = Files.readString(log);
        assertThat(broker.exitValue()).as("exit status; log:%n%s", printed).isEqualTo(EXIT_AFTER_SIGTERM);
        assertThat(printed).contains("draining:").contains("broker stopped").doesNotContain(" ERROR ");
        assertThat(socket).as("the socket file is removed").doesNotExist();
    }

    private HttpResponse<String> get(int port, String path) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static String output(Process process) throws IOException {
        return new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    }

    // ---- files and machine ----

    private static Path jar() {
        Path jar = Path.of(System.getProperty("handoffbroker.jar", "target/handoff-broker.jar")).toAbsolutePath();
        assertThat(jar).as("the packaged jar (run through `mvnw verify`)").exists();
        return jar;
    }

    private static Path basedir() {
        return Path.of(System.getProperty("handoffbroker.basedir", "")).toAbsolutePath();
    }

    private static String java() {
        return ProcessHandle.current().info().command().orElseThrow();
    }

    private static Path inApp(Path app, String imagePath) {
        return app.resolve(imagePath.substring("/app/".length()));
    }

    private static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> paths = Files.walk(from)) {
            for (Path source : paths.toList()) {
                Path target = to.resolve(from.relativize(source).toString());
                if (Files.isDirectory(source)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(source, target);
                }
            }
        }
    }

    private static void copyFile(Path from, Path to) {
        try {
            Files.createDirectories(to.getParent());
            Files.copy(from, to);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }

    private static Optional<InetAddress> nonLoopbackAddress() throws SocketException {
        return NetworkInterface.networkInterfaces()
                .filter(PackagedApplicationIT::isUp)
                .flatMap(NetworkInterface::inetAddresses)
                .filter(a -> a instanceof java.net.Inet4Address && !a.isLoopbackAddress() && !a.isLinkLocalAddress())
                .findFirst();
    }

    private static boolean isUp(NetworkInterface network) {
        try {
            return network.isUp() && !network.isLoopback();
        } catch (SocketException e) {
            return false;
        }
    }
}
