package io.handoffbroker;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.yaml.snakeyaml.Yaml;

/**
 * The packaged application as operators start it, each in a process of its own: the
 * README's run command, and the container image's runtime stage as the Dockerfile lays
 * it out. The commands, copies, working directory, port and health check are read from
 * the README and the Dockerfile themselves, so that a change there is tested here. What
 * only a container runtime adds, the base images and the user the image creates, is not
 * covered.
 *
 * <p>Run by failsafe after {@code package}, against the jar that phase built.
 */
// Well above the sum of the steps' own bounds, so that those report first.
@Timeout(value = 10, unit = TimeUnit.MINUTES, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class PackagedApplicationIT {

    private static final Duration START = Duration.ofSeconds(90);
    private static final Duration COMMAND = Duration.ofSeconds(60);
    private static final Duration STOP = Duration.ofSeconds(30);
    // The JVM's exit status after SIGTERM once its shutdown hooks ran: 128 + 15.
    private static final int EXIT_AFTER_SIGTERM = 143;
    private static final String JAR = "target/handoff-broker.jar";
    private static final Pattern PORT_STARTED = Pattern.compile("started on port (\\d+)");
    // What the JVM prints when native access was not granted. config/jvm.options grants it, and so
    // does the jar's manifest to `java -jar`: this checks the outcome, not which of the two gave it.
    private static final String NO_NATIVE_ACCESS = "WARNING: A restricted method";

    @TempDir
    Path dir;

    // Also read by @AfterEach while a timed-out test's thread may still be starting one.
    private final List<Process> started = new CopyOnWriteArrayList<>();
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    @AfterEach
    void stopWhatIsLeft() throws InterruptedException {
        for (Process process : started) {
            destroyTree(process);
            process.waitFor(10, TimeUnit.SECONDS);
        }
        http.close();
    }

    @Test
    void theReadmeRunCommandServesTheDemoAndDrainsOnSigterm() throws Exception {
        String readme = Files.readString(basedir().resolve("README.md"));
        Path socket = dir.resolve("broker.sock");
        Path log = dir.resolve("broker.log");
        // The README's command, from the project's directory as the README runs it, with the
        // socket and the actuator moved out of the machine's way.
        List<String> command = javaCommand(lineOf(readme, "java @config/jvm.options -jar " + JAR));
        command.addAll(List.of("--broker.socket-path=" + socket, "--server.port=0"));
        Process broker = start(basedir(), log, Map.of(), command);

        int port = awaitReady(broker, log);
        List<String> demo = javaCommand(lineOf(readme, "java -jar " + JAR + " demo-client"));
        demo.addAll(List.of("--socket", socket.toString()));
        assertThat(run(basedir(), demo)).contains("route=handed-off");

        String scrape = get("127.0.0.1", port, "/actuator/prometheus").body();
        assertThat(scrape).containsPattern(
                "running_process_broker_v1_handoff_acks_total\\{[^}]*result=\"accepted\"[^}]*} [1-9]");
        assertJvmOptionsApplied(scrape, log);
        assertDrainsOnSigterm(broker, log, socket);
    }

    @Test
    void theImageLayoutStartsFromTheDockerfileEntryPointAndPassesItsHealthCheck() throws Exception {
        Image image = startImage();
        assertThat(image.healthCheck()).as("the image's health check").isZero();

        // The image's configuration serves the actuator on every interface of the container.
        Optional<InetAddress> external = nonLoopbackAddress();
        if (external.isPresent()) {
            assertThat(get(external.get().getHostAddress(), image.port(), "/actuator/health/liveness").statusCode())
                    .as("the actuator on %s", external.get()).isEqualTo(200);
        } else {
            System.out.println("no non-loopback address here: the actuator's address was not checked");
        }

        // The demo client as the Dockerfile's comment runs it with docker exec, in the image's WORKDIR.
        List<String> demo = new ArrayList<>(image.dockerfile().execDemo());
        demo.set(0, java());
        int socketOption = demo.indexOf("--socket");
        if (socketOption < 0) {
            throw new IllegalStateException("the Dockerfile's demo command names no --socket: " + demo);
        }
        demo.set(socketOption + 1, image.socket().toString());
        assertThat(run(image.app(), demo)).contains("route=handed-off");

        assertJvmOptionsApplied(get("127.0.0.1", image.port(), "/actuator/prometheus").body(), image.log());
        assertDrainsOnSigterm(image.broker(), image.log(), image.socket());
    }

    @Test
    void theImageHealthCheckFailsOnceTheSocketFileIsRemoved() throws Exception {
        Image image = startImage();
        assertThat(image.healthCheck()).as("the image's health check").isZero();

        Files.delete(image.socket()); // as a cleaner of temporary files would: no new client can connect
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        int status;
        while ((status = image.healthCheck()) == 0 && System.nanoTime() - deadline < 0) {
            Thread.sleep(200);
        }
        assertThat(status).as("the image's health check, which a restart policy acts on").isNotZero();
        String printed = Files.readString(image.log());
        assertThat(printed).containsOnlyOnce("no longer names this broker's listening socket");

        // Stopped as a supervisor restarting it would: a clean drain, with nothing of its own to remove.
        image.broker().destroy(); // SIGTERM
        assertThat(image.broker().waitFor(STOP.toSeconds(), TimeUnit.SECONDS)).as("stopped after SIGTERM").isTrue();
        printed = Files.readString(image.log());
        assertThat(image.broker().exitValue()).as("exit status; log:%n%s", printed).isEqualTo(EXIT_AFTER_SIGTERM);
        assertThat(printed).contains("broker stopped").doesNotContain(" ERROR ");
    }

    /** The image's runtime stage laid out from the Dockerfile, its entry point started and ready. */
    private record Image(Dockerfile dockerfile, Path app, Path socket, Path log, Process broker, int port,
            Path dir) {

        /** Runs the Dockerfile's HEALTHCHECK command against this broker; its exit status. */
        int healthCheck() throws Exception {
            String command = dockerfile.healthCheck().replace("/127.0.0.1/" + dockerfile.exposedPort() + " ",
                    "/127.0.0.1/" + port + " ");
            Path checkLog = Files.createTempFile(dir, "healthcheck", ".log");
            Process check = new ProcessBuilder("bash", "-c", command).redirectErrorStream(true)
                    .redirectOutput(checkLog.toFile()).start();
            boolean ended = check.waitFor(dockerfile.healthCheckTimeout().toMillis(), TimeUnit.MILLISECONDS);
            if (!ended) {
                destroyTree(check);
            }
            assertThat(ended).as("the health check ends within its timeout: %s", Files.readString(checkLog))
                    .isTrue();
            return check.exitValue();
        }
    }

    private Image startImage() throws Exception {
        Dockerfile dockerfile = Dockerfile.read(basedir().resolve("Dockerfile"));
        Path layers = dir.resolve("layers");
        Path root = dir.resolve("image");
        Path app = inImage(root, dockerfile.workdir());

        // The build stage's extraction, with its paths moved here.
        List<String> extract = new ArrayList<>(List.of(java()));
        for (String word : dockerfile.extraction()) {
            extract.add(word.replace(JAR, jar().toString()).replace("/layers", layers.toString()));
        }
        run(dir, extract);
        // The runtime stage's copies, merged into one tree as the image's layers are.
        for (String layer : dockerfile.layerCopies()) {
            copyTree(layers.resolve(layer), app);
        }
        dockerfile.fileCopies().forEach((from, to) -> copyFile(basedir().resolve(from), inImage(root, to)));
        assertThat(app.resolve("BOOT-INF/lib")).isDirectory();
        assertThat(app.resolve("config/application.yml")).as("the image's configuration").exists();

        // The port the image publishes is the one its health check asks and its configuration serves.
        assertThat(dockerfile.healthCheck()).contains("/dev/tcp/127.0.0.1/" + dockerfile.exposedPort() + " ");
        assertThat(configuredPort(app.resolve("config/application.yml"), app.resolve("BOOT-INF/classes/application.yml")))
                .isEqualTo(dockerfile.exposedPort());

        Path socket = dir.resolve("run").resolve("broker.sock");
        Files.createDirectories(socket.getParent());
        List<String> entryPoint = dockerfile.entryPoint();
        assertThat(entryPoint).first().isEqualTo("java");
        List<String> command = new ArrayList<>();
        for (String word : entryPoint) {
            // Absolute paths in the image ("/app/...", "@/app/jvm.options") are under root here.
            command.add(word.equals("java") ? java()
                    : word.replaceAll("(?<=^|@)/", Matcher.quoteReplacement(root + "/")));
        }
        // The socket path and the port are moved by environment, as an operator would; everything
        // else is the image's own configuration file, read from its working directory.
        Path log = dir.resolve("image.log");
        Process broker = start(app, log, Map.of("BROKER_SOCKET_PATH", socket.toString(), "SERVER_PORT", "0"), command);
        int port = awaitReady(broker, log);
        return new Image(dockerfile, app, socket, log, broker, port, dir);
    }

    // ---- the Dockerfile, as far as its runtime stage goes ----

    private record Dockerfile(List<String> extraction, List<String> layerCopies, Map<String, String> fileCopies,
            String workdir, List<String> entryPoint, String healthCheck, Duration healthCheckTimeout,
            int exposedPort, List<String> execDemo) {

        private static final Pattern EXTRACT = Pattern.compile("(?m)^RUN java (-Djarmode=tools .*)$");
        private static final Pattern LAYER = Pattern.compile("(?m)^COPY --from=build /layers/([a-z-]+)/ \\./$");
        private static final Pattern FILE = Pattern.compile("(?m)^COPY (config/\\S+) (/\\S+)$");
        private static final Pattern WORKDIR = Pattern.compile("(?m)^WORKDIR (\\S+)$");
        private static final Pattern ENTRY = Pattern.compile("(?m)^ENTRYPOINT \\[(.*)]$");
        private static final Pattern HEALTH = Pattern.compile("(?m)^\\s+CMD bash -c '(.*)'$");
        private static final Pattern HEALTH_TIMEOUT = Pattern.compile("(?m)^HEALTHCHECK .*--timeout=(\\d+)s");
        private static final Pattern EXPOSE = Pattern.compile("(?m)^EXPOSE (\\d+)$");
        private static final Pattern EXEC = Pattern.compile(
                "(?m)^#\\s+docker exec <container> (java .*)\\n#\\s+(\\S+ demo-client .*)$");

        static Dockerfile read(Path path) throws IOException {
            String text = Files.readString(path);
            List<String> layers = LAYER.matcher(text).results().map(m -> m.group(1)).toList();
            Map<String, String> files = new LinkedHashMap<>();
            FILE.matcher(text).results().forEach(m -> files.put(m.group(1), m.group(2)));
            List<String> workdirs = WORKDIR.matcher(text).results().map(m -> m.group(1)).toList();
            List<String> entry = Pattern.compile("\"([^\"]*)\"").matcher(one(ENTRY, text, 1)).results()
                    .map(m -> m.group(1)).toList();
            assertThat(layers).as("layer copies").isNotEmpty();
            assertThat(files).as("file copies").isNotEmpty();
            String runtimeStage = text.substring(text.lastIndexOf("\nFROM "));
            assertThat(runtimeStage.lines().filter(line -> line.startsWith("COPY ")).count())
                    .as("every COPY of the runtime stage is understood here").isEqualTo(layers.size() + files.size());
            assertThat(workdirs).as("WORKDIR of the runtime stage").isNotEmpty();
            List<String> exec = new ArrayList<>(List.of((one(EXEC, text, 1) + " " + one(EXEC, text, 2)).split(" ")));
            return new Dockerfile(List.of(one(EXTRACT, text, 1).split(" ")), layers, files,
                    workdirs.getLast(), entry, one(HEALTH, text, 1),
                    Duration.ofSeconds(Long.parseLong(one(HEALTH_TIMEOUT, text, 1))),
                    Integer.parseInt(one(EXPOSE, text, 1)), exec);
        }

        private static String one(Pattern pattern, String text, int group) {
            Matcher m = pattern.matcher(text);
            assertThat(m.find()).as("the Dockerfile has %s", pattern).isTrue();
            return m.group(group);
        }
    }

    /** {@code server.port} from the first file that sets it (the image's, then the jar's), or Spring Boot's default. */
    private static int configuredPort(Path... yamlFiles) throws IOException {
        for (Path yaml : yamlFiles) {
            Map<String, Object> document = new Yaml().load(Files.readString(yaml));
            if (document != null && document.get("server") instanceof Map<?, ?> server && server.get("port") != null) {
                return Integer.parseInt(server.get("port").toString());
            }
        }
        return 8080;
    }

    // ---- processes ----

    private Process start(Path workingDirectory, Path log, Map<String, String> environment, List<String> command)
            throws IOException {
        ProcessBuilder builder = new ProcessBuilder(command).directory(workingDirectory.toFile())
                .redirectErrorStream(true).redirectOutput(log.toFile());
        // Nothing of this build's environment may configure the JVM or the application.
        builder.environment().keySet().removeIf(key -> key.equals("JAVA_TOOL_OPTIONS")
                || key.equals("JDK_JAVA_OPTIONS") || key.equals("_JAVA_OPTIONS") || key.startsWith("SPRING_")
                || key.startsWith("BROKER_") || key.startsWith("SERVER_") || key.startsWith("MANAGEMENT_")
                || key.startsWith("LOGGING_"));
        builder.environment().putAll(environment);
        Process process = builder.start();
        started.add(process);
        return process;
    }

    /** Runs a command to its end, within {@link #COMMAND}, and returns what it printed; it must succeed. */
    private String run(Path workingDirectory, List<String> command) throws Exception {
        Path out = Files.createTempFile(dir, "command", ".log");
        Process process = start(workingDirectory, out, Map.of(), command);
        boolean ended = process.waitFor(COMMAND.toMillis(), TimeUnit.MILLISECONDS);
        if (!ended) {
            destroyTree(process);
        }
        String printed = Files.readString(out);
        assertThat(ended).as("%s ends within %s; it printed:%n%s", command, COMMAND, printed).isTrue();
        assertThat(process.exitValue()).as("%s exit status; it printed:%n%s", command, printed).isZero();
        return printed;
    }

    private static void destroyTree(Process process) {
        process.descendants().forEach(ProcessHandle::destroyForcibly);
        process.destroyForcibly();
    }

    /** Waits for readiness; returns the actuator's port, read from the log. */
    private int awaitReady(Process broker, Path log) throws Exception {
        long deadline = System.nanoTime() + START.toNanos();
        int port = -1;
        while (System.nanoTime() - deadline < 0) {
            if (!broker.isAlive()) {
                throw new AssertionError("the broker exited (" + broker.exitValue() + "); log:\n"
                        + Files.readString(log));
            }
            if (port < 0) {
                Matcher portLine = PORT_STARTED.matcher(Files.readString(log));
                port = portLine.find() ? Integer.parseInt(portLine.group(1)) : -1;
            } else {
                try {
                    HttpResponse<String> readiness = get("127.0.0.1", port, "/actuator/health/readiness");
                    if (readiness.statusCode() == 200 && readiness.body().contains("\"UP\"")) {
                        return port;
                    }
                } catch (IOException notYet) {
                    // Listening, not answering yet: ask again.
                }
            }
            Thread.sleep(200);
        }
        throw new AssertionError("not ready within " + START + "; log:\n" + Files.readString(log));
    }

    private static void assertJvmOptionsApplied(String scrape, Path log) throws IOException {
        assertThat(Files.readString(log)).as("native access granted").doesNotContain(NO_NATIVE_ACCESS);
        assertThat(scrape).as("the serial collector").contains("id=\"Tenured Gen\"");
        double heapMax = Pattern.compile("(?m)^jvm_memory_max_bytes\\{area=\"heap\"[^}]*} (\\S+)$").matcher(scrape)
                .results().mapToDouble(m -> Double.parseDouble(m.group(1))).filter(max -> max > 0).sum();
        assertThat(heapMax).as("the heap's maximum, -Xmx128m").isBetween(100.0 * (1 << 20), 128.0 * (1 << 20));
    }

    private void assertDrainsOnSigterm(Process broker, Path log, Path socket) throws Exception {
        assertThat(socket).exists();
        broker.destroy(); // SIGTERM
        assertThat(broker.waitFor(STOP.toSeconds(), TimeUnit.SECONDS)).as("stopped after SIGTERM").isTrue();
        String printed = Files.readString(log);
        assertThat(broker.exitValue()).as("exit status; log:%n%s", printed).isEqualTo(EXIT_AFTER_SIGTERM);
        assertThat(printed).contains("draining:").contains("broker stopped").doesNotContain(" ERROR ")
                .as("the drain removes the socket file itself: no loss of it")
                .doesNotContain("no longer names this broker's listening socket");
        assertThat(socket).as("the socket file is removed").doesNotExist();
    }

    private HttpResponse<String> get(String host, int port, String path) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(URI.create("http://" + host + ":" + port + path))
                .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
    }

    // ---- files and machine ----

    /** The one line of {@code text} that contains {@code fragment}, from the fragment on. */
    private static String lineOf(String text, String fragment) {
        List<String> lines = text.lines().filter(line -> line.contains(fragment)).toList();
        assertThat(lines).as("a line with %s", fragment).isNotEmpty();
        String line = lines.getFirst();
        return line.substring(line.indexOf(fragment)).strip();
    }

    /** A command line as documented, with this build's java in place of {@code java}. */
    private static List<String> javaCommand(String documented) {
        List<String> words = new ArrayList<>(List.of(documented.split("\\s+")));
        assertThat(words).first().isEqualTo("java");
        words.set(0, java());
        words.replaceAll(word -> word.equals(JAR) ? jar().toString() : word);
        return words;
    }

    private static Path jar() {
        Path jar = Path.of(System.getProperty("handoffbroker.jar", JAR)).toAbsolutePath();
        assertThat(jar).as("the packaged jar (run through `mvnw verify`)").exists();
        return jar;
    }

    private static Path basedir() {
        return Path.of(System.getProperty("handoffbroker.basedir", "")).toAbsolutePath();
    }

    private static String java() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    private static Path inImage(Path root, String imagePath) {
        return root.resolve(imagePath.substring(1));
    }

    private static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> paths = Files.walk(from)) {
            for (Path source : paths.toList()) {
                Path target = to.resolve(from.relativize(source).toString());
                if (Files.isDirectory(source)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(source, target, StandardCopyOption.REPLACE_EXISTING); // as a later layer does
                }
            }
        }
    }

    private static void copyFile(Path from, Path to) {
        try {
            Files.createDirectories(to.getParent());
            Files.copy(from, to, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Optional<InetAddress> nonLoopbackAddress() throws SocketException {
        return NetworkInterface.networkInterfaces()
                .filter(PackagedApplicationIT::isUp)
                .flatMap(NetworkInterface::inetAddresses)
                .filter(a -> a instanceof Inet4Address && !a.isLoopbackAddress() && !a.isLinkLocalAddress())
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
