package io.handoffbroker.bench;

import io.handoffbroker.bench.Children.Child;
import io.handoffbroker.bench.Report.Check;
import io.handoffbroker.bench.Report.Figure;
import io.handoffbroker.bench.Report.ProcessCost;
import io.handoffbroker.bench.Report.Ratio;
import io.handoffbroker.bench.Report.RouteCost;
import io.handoffbroker.bench.Report.Verdict;
import io.handoffbroker.client.Route;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.stream.Stream;
import org.HdrHistogram.Histogram;
import org.jspecify.annotations.Nullable;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/**
 * The benchmark of the performance targets, in one run on one machine: starts a
 * backend, a floor server, a broker and the measuring clients as separate processes
 * (and, for the route floor, a minimal broker and backend), collects their
 * HdrHistograms, prints a markdown table and writes
 * {@code results.json} and {@code results.md} to {@code bench.out} (target/bench).
 * See docs/performance.md for what each figure measures and how.
 *
 * <p>Settings, from environment variables (defaults in brackets): {@code BENCH_SAMPLES} [10000]
 * and {@code BENCH_WARMUP} [5000] for the floor and the Hello; {@code BENCH_ROUTE_SAMPLES} [5000]
 * and {@code BENCH_ROUTE_WARMUP} [2000] per route, also of the route floor (a warm-up goes on
 * until the JIT compilers are quiet, see {@link WarmUp}); {@code BENCH_ROUTE_ACCOUNTED}
 * [2000] connections counted per route for the CPU and wake-up accounting, each route alone, in two
 * blocks after an uncounted one (0: skipped); {@code BENCH_CLIENTS} [64],
 * {@code BENCH_RATE} [20000] and {@code BENCH_SECONDS} [5] for the throughput;
 * {@code BENCH_CONNECTIONS} [10000] for the memory, measured with the broker's JVM options and
 * once more with {@code BENCH_CAPPED_JVM_OPTS} [none] added (empty: skipped); {@code BENCH_PIN} [0] pins the broker,
 * the floor server and the route floor's broker to CPU 0 and every other process to CPU 1;
 * {@code BENCH_BROKER_JVM_OPTS} [@config/jvm.options; {@code none}: JVM defaults] is the broker's JVM
 * options and {@code BENCH_CLIENT_JVM_OPTS} [none] the clients' (the route floor's processes take the
 * clients'); {@code BENCH_PHASES}
 * [latency,routes,throughput,memory] picks phases ({@code routes} includes the route floor);
 * {@code BENCH_ENFORCE} [0] makes a missed
 * target fail the run (exit status 1).
 */
public final class Bench {

    static final String SERVICE = "bench";
    static final String VERSION = "1.0.0";
    private static final int BROKER_CPU = 0;
    private static final int CLIENT_CPU = 1;
    private static final Duration CLIENT_TIMEOUT = Duration.ofMinutes(4);

    private record Settings(int samples, int warmup, int routeSamples, int routeWarmup, int routeAccounted,
            int clients, int rate,
            double seconds, int connections, boolean pin, List<String> brokerJvm, List<String> clientJvm,
            List<String> cappedJvm, String brokerLogLevel, boolean enforce, Set<String> phases) {

        static Settings fromEnvironment() {
            boolean pin = env("BENCH_PIN", 0) == 1;
            if (pin && Runtime.getRuntime().availableProcessors() < 2) {
                System.out.println("BENCH_PIN ignored: pinning needs 2 CPUs");
                pin = false;
            }
            return new Settings(env("BENCH_SAMPLES", 10_000), env("BENCH_WARMUP", 5_000),
                    env("BENCH_ROUTE_SAMPLES", 5_000), env("BENCH_ROUTE_WARMUP", 2_000),
                    env("BENCH_ROUTE_ACCOUNTED", 2_000), env("BENCH_CLIENTS", 64),
                    env("BENCH_RATE", 20_000), Double.parseDouble(envString("BENCH_SECONDS", "5")),
                    env("BENCH_CONNECTIONS", 10_000), pin, brokerJvmOptions(),
                    options("BENCH_CLIENT_JVM_OPTS"), options("BENCH_CAPPED_JVM_OPTS", ""),
                    envString("BENCH_BROKER_LOG", "WARN"), env("BENCH_ENFORCE", 0) == 1,
                    Set.of(envString("BENCH_PHASES", "latency,routes,throughput,memory").split("\\s*,\\s*")));
        }

        private static String envString(String name, String otherwise) {
            String value = System.getenv(name);
            return value == null || value.isBlank() ? otherwise : value.trim();
        }

        // The broker runs with the production JVM options (config/jvm.options, as the image and the
        // README's run command do) unless BENCH_BROKER_JVM_OPTS says otherwise ("none": JVM defaults).
        private static List<String> brokerJvmOptions() {
            String override = System.getenv("BENCH_BROKER_JVM_OPTS");
            if (override != null && !override.isBlank()) {
                return override.trim().equals("none") ? List.of() : Arrays.asList(override.trim().split("\\s+"));
            }
            Path file = Path.of(System.getProperty("bench.basedir", "."), "config", "jvm.options");
            return List.of("@" + file.toAbsolutePath());
        }

        private static int env(String name, int otherwise) {
            return Integer.parseInt(envString(name, Integer.toString(otherwise)));
        }

        private static List<String> options(String name) {
            return options(name, "");
        }

        private static List<String> options(String name, String otherwise) {
            String value = System.getenv(name) == null ? otherwise : System.getenv(name).trim();
            return value.isEmpty() ? List.of() : Arrays.asList(value.split("\\s+"));
        }
    }

    private final Settings settings;
    private final Path work;
    private final Children children;
    private final Report report = new Report();
    private final Path backendPipe;
    private final Path handoffEndpoint;

    private @Nullable Child broker;
    private @Nullable Child backend;
    private @Nullable Child floorServer;
    private final Map<String, Integer> actuatorPorts = new HashMap<>();
    private @Nullable Results latency;
    private @Nullable Results routes;
    private @Nullable Results routeFloor;
    private @Nullable Results throughput;
    private final Map<String, Object> afterTraffic = new LinkedHashMap<>();
    /** Per memory run ("defaults", "capped"): the broker's sizes and the idle client's results. */
    private final Map<String, Map<String, Object>> memory = new LinkedHashMap<>();
    private final Map<String, Results> idle = new LinkedHashMap<>();
    /** The broker's own timer means (µs) and counts, per figure key. */
    private final Map<String, double[]> brokerMeans = new HashMap<>();
    private final Map<String, String> failures = new LinkedHashMap<>();

    private Bench(Settings settings, Path work, Children children) {
        this.settings = settings;
        this.work = work;
        this.children = children;
        this.backendPipe = work.resolve("backend/backend.sock");
        this.handoffEndpoint = work.resolve("backend/handoff.sock");
    }

    public static void main(String[] args) throws Exception {
        Settings settings = Settings.fromEnvironment();
        Path out = Files.createDirectories(Path.of(System.getProperty("bench.out", "target/bench")));
        Path work = Files.createTempDirectory("handoff-bench-"); // 0700: the broker refuses a shared directory
        Children children = new Children(out.resolve("logs"), settings.pin());
        Thread cleanup = new Thread(() -> {
            children.close();
            deleteTree(work);
        }, "bench-cleanup");
        Runtime.getRuntime().addShutdownHook(cleanup);
        Bench bench = new Bench(settings, work, children);
        int status;
        try {
            status = bench.run(out);
        } finally {
            children.close();
            deleteTree(work);
        }
        System.exit(status);
    }

    private int run(Path out) throws IOException {
        Instant started = Instant.now();
        facts();
        String loadBefore = Proc.firstLine("/proc/loadavg");
        System.out.printf("handoff-broker benchmark: %d CPUs, %s; logs in %s%n",
                Runtime.getRuntime().availableProcessors(), settings.pin() ? "pinned" : "not pinned",
                out.resolve("logs"));

        phase("backend and floor server", this::startBackends);
        if (settings.phases().contains("latency")) {
            phase("floor and Hello", this::latencyPhase);
        }
        if (settings.phases().contains("routes")) {
            phase("handoff and reconnect", this::routePhase);
            phase("route floor", this::routeFloorPhase);
        }
        if (settings.phases().contains("throughput")) {
            phase("throughput", this::throughputPhase);
        }
        if (settings.phases().contains("memory")) {
            phase("memory, broker JVM options", () -> memoryPhase("defaults", List.of()));
        }
        if (settings.phases().contains("memory") && !settings.cappedJvm().isEmpty()) {
            phase("memory, " + String.join(" ", settings.cappedJvm()),
                    () -> memoryPhase("capped", settings.cappedJvm()));
        }

        report.facts.put("load average before", loadBefore);
        report.facts.put("load average after", Proc.firstLine("/proc/loadavg"));
        report.facts.put("duration", Duration.between(started, Instant.now()).truncatedTo(ChronoUnit.SECONDS)
                .toString().substring(2).toLowerCase(Locale.ROOT));
        evaluate();

        String markdown = report.markdown();
        Files.writeString(out.resolve("results.md"), "# handoff-broker benchmark results\n\n" + markdown,
                StandardCharsets.UTF_8);
        Files.writeString(out.resolve("results.json"), report.json(), StandardCharsets.UTF_8);
        System.out.println();
        System.out.println(markdown);
        System.out.println("Written: " + out.resolve("results.md") + " and " + out.resolve("results.json"));
        if (!failures.isEmpty()) {
            return 2;
        }
        return settings.enforce() && report.anyFailed() ? 1 : 0;
    }

    private interface Phase {
        void run() throws Exception;
    }

    private void phase(String name, Phase phase) {
        long start = System.nanoTime();
        System.out.printf("- %s ...%n", name);
        try {
            phase.run();
            System.out.printf("  done in %.1f s%n", (System.nanoTime() - start) / 1e9);
        } catch (Exception e) {
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
            failures.put(name, e.getMessage());
            report.notes.add("Phase '" + name + "' failed: " + firstLine(e.getMessage()));
            System.out.printf("  FAILED: %s%n", e.getMessage());
        }
    }

    private void facts() {
        Map<String, Object> f = report.facts;
        f.put("date", Instant.now().truncatedTo(ChronoUnit.SECONDS).toString());
        f.put("handoff-broker", System.getProperty("bench.project.version", "?") + gitCommit());
        f.put("CPUs (nproc)", Runtime.getRuntime().availableProcessors());
        f.put("CPU model", Proc.field("/proc/cpuinfo", "model name"));
        f.put("memory", Proc.field("/proc/meminfo", "MemTotal"));
        f.put("kernel", Proc.firstLine("/proc/sys/kernel/osrelease"));
        f.put("JDK", System.getProperty("java.vm.vendor") + " " + System.getProperty("java.runtime.version"));
        f.put("pinning", settings.pin() ? "broker and floor server on CPU 0, backend and clients on CPU 1"
                : "none (the scheduler places every process)");
        f.put("broker JVM options", settings.brokerJvm().isEmpty() ? "JVM defaults"
                : String.join(" ", settings.brokerJvm()).replace(
                        Path.of(System.getProperty("bench.basedir", ".")).toAbsolutePath() + "/", ""));
        f.put("client JVM options", settings.clientJvm().isEmpty() ? "JVM defaults"
                : String.join(" ", settings.clientJvm()));
        f.put("broker logging", settings.brokerLogLevel().equalsIgnoreCase("WARN")
                ? "WARN (the per-Hello and per-handoff INFO lines are off)"
                : settings.brokerLogLevel() + " (to a file in target/bench/logs)");
    }

    private String gitCommit() {
        String basedir = System.getProperty("bench.basedir", "..");
        try {
            Process git = new ProcessBuilder("git", "-C", basedir, "describe", "--always", "--dirty")
                    .redirectErrorStream(true).start();
            String commit = new String(git.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            return git.waitFor() == 0 && !commit.isEmpty() ? " (" + commit + ")" : "";
        } catch (IOException e) {
            return "";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "";
        }
    }

    // ---- phases ---------------------------------------------------------------------------

    private void startBackends() throws Exception {
        Files.createDirectories(backendPipe.getParent());
        Child backend = children.start("backend", CLIENT_CPU, settings.clientJvm(), work, "backend",
                backendPipe.toString(), handoffEndpoint.toString(), "8192");
        this.backend = backend;
        Child floor = children.start("floor-server", BROKER_CPU, settings.clientJvm(), work, "floor-server",
                work.resolve("floor.sock").toString(), work.resolve("floor-connect.sock").toString());
        this.floorServer = floor;
        awaitSocket(backend, backendPipe);
        awaitSocket(backend, handoffEndpoint);
        awaitSocket(floor, work.resolve("floor.sock"));
        awaitSocket(floor, work.resolve("floor-connect.sock"));
    }

    private Child startBroker(String name, String helloTimeout, List<String> extraJvm) throws Exception {
        int port = Actuator.freePort();
        Path socket = work.resolve(name + "/broker.sock");
        List<String> args = List.of(
                "--broker.socket-path=" + socket,
                "--broker.demo.enabled=false",
                "--broker.services[0].name=" + SERVICE,
                "--broker.services[0].version=" + VERSION,
                "--broker.services[0].backend-endpoint=" + backendPipe,
                "--broker.services[0].handoff-endpoint=" + handoffEndpoint,
                "--broker.hello-timeout=" + helloTimeout,
                "--broker.max-connections=" + (settings.connections() + 2_048),
                "--broker.backlog=4096",
                // Every client of a phase is one process, and the limit is per process.
                "--broker.rate-limit.hellos-per-peer=1000000000",
                "--broker.shutdown-grace-period=0s",
                "--server.port=" + port,
                "--logging.level.root=" + settings.brokerLogLevel());
        List<String> jvm = new ArrayList<>(settings.brokerJvm());
        jvm.addAll(extraJvm);
        Child broker = children.start(name, BROKER_CPU, jvm, work, "broker", args.toArray(String[]::new));
        actuatorPorts.put(name, port);
        awaitSocket(broker, socket);
        return broker;
    }

    private Path brokerSocket(Child broker) {
        return work.resolve(broker.name() + "/broker.sock");
    }

    private void latencyPhase() throws Exception {
        Child b = sharedBroker();
        Measured run = measuredClient(b, "latency-client", "latency",
                work.resolve("floor.sock").toString(), work.resolve("floor-connect.sock").toString(),
                brokerSocket(b).toString(), SERVICE, VERSION, Integer.toString(settings.warmup()),
                Integer.toString(settings.samples()), "1000", Long.toString(b.pid()),
                Long.toString(Objects.requireNonNull(floorServer).pid()));
        latency = run.results();
        brokerMeans.put("hello", Actuator.meanMicros(run.before(), run.after(), Actuator.HELLO));
    }

    /** A client's results and the broker's meters around its measured part. */
    private record Measured(Results results, Map<String, Double> before, Map<String, Double> after) {
    }

    /**
     * Runs a client that warms up, writes a marker, waits for "continue", measures and
     * writes its results; the broker's meters are scraped once warmed up and once done.
     * The client's arguments are {@code args}, then the marker and the results file.
     */
    private Measured measuredClient(Child b, String role, String name, String... args) throws Exception {
        return measuredClient(b, role, name, null, args);
    }

    /**
     * As {@link #measuredClient(Child, String, String, String...)}; with {@code measured}, the
     * client writes that marker too once done measuring and waits for "continue" again before
     * anything else, so the second scrape leaves out what it does after.
     */
    private Measured measuredClient(Child b, String role, String name, @Nullable Path measured, String... args)
            throws Exception {
        Path marker = work.resolve(name + ".warmed");
        Path resultFile = work.resolve(name + ".properties");
        List<String> all = new ArrayList<>(List.of(args));
        all.add(marker.toString());
        all.add(resultFile.toString());
        Child client = children.start(role, CLIENT_CPU, settings.clientJvm(), work, role, all.toArray(String[]::new));
        awaitMarker(client, marker);
        Map<String, Double> before = Actuator.scrape(actuatorPorts.get(b.name()), SERVICE);
        client.send("continue");
        Map<String, Double> after;
        if (measured != null) {
            awaitMarker(client, measured);
            after = Actuator.scrape(actuatorPorts.get(b.name()), SERVICE);
            client.send("continue");
            children.awaitExit(client, CLIENT_TIMEOUT);
        } else {
            children.awaitExit(client, CLIENT_TIMEOUT);
            after = Actuator.scrape(actuatorPorts.get(b.name()), SERVICE);
        }
        return new Measured(Results.read(resultFile), before, after);
    }

    /** The broker of phases 2 to 5, started by whichever of them runs first. */
    private Child sharedBroker() throws Exception {
        Child b = broker;
        if (b == null) {
            b = startBroker("broker", "2s", List.of());
            broker = b;
        } else if (!b.process().isAlive()) {
            throw new IOException("the broker is not running (see the earlier failure)");
        }
        return b;
    }

    private void routePhase() throws Exception {
        Child b = sharedBroker();
        Path measured = work.resolve("routes.measured");
        Measured run = measuredClient(b, "route-client", "routes", measured, brokerSocket(b).toString(), SERVICE,
                VERSION, Integer.toString(settings.routeWarmup()), Integer.toString(settings.routeSamples()),
                Long.toString(b.pid()), Long.toString(Objects.requireNonNull(backend).pid()),
                Integer.toString(settings.routeAccounted()), measured.toString());
        routes = run.results();
        brokerMeans.put("handoff", Actuator.meanMicros(run.before(), run.after(), Actuator.HANDOFF));
        brokerMeans.put("route-hello", Actuator.meanMicros(run.before(), run.after(), Actuator.HELLO));
    }

    /**
     * Figures 3f and 4f: the messages of the two routes between a minimal broker and a
     * minimal backend, on sockets of their own, placed as the real ones are; stopped
     * afterwards, so later phases do not share the CPUs with their idle threads.
     */
    private void routeFloorPhase() throws Exception {
        Path dir = Files.createDirectories(work.resolve("route-floor"));
        Path pipe = dir.resolve("backend.sock");
        Path handoffs = dir.resolve("handoff.sock");
        Path brokerSocket = dir.resolve("broker.sock");
        Child backend = children.start("route-floor-backend", CLIENT_CPU, settings.clientJvm(), work,
                "route-floor-backend", pipe.toString(), handoffs.toString());
        Child floorBroker = null;
        try {
            awaitSocket(backend, pipe);
            awaitSocket(backend, handoffs);
            floorBroker = children.start("route-floor-broker", BROKER_CPU, settings.clientJvm(), work,
                    "route-floor-broker", brokerSocket.toString(), handoffs.toString());
            awaitSocket(floorBroker, brokerSocket);
            Path resultFile = work.resolve("route-floor.properties");
            Child client = children.start("route-floor-client", CLIENT_CPU, settings.clientJvm(), work,
                    "route-floor-client", brokerSocket.toString(), pipe.toString(),
                    Integer.toString(settings.routeWarmup()), Integer.toString(settings.routeSamples()),
                    Long.toString(floorBroker.pid()), Long.toString(backend.pid()), resultFile.toString());
            children.awaitExit(client, CLIENT_TIMEOUT);
            routeFloor = Results.read(resultFile);
        } finally {
            if (floorBroker != null) {
                children.stop(floorBroker);
            }
            children.stop(backend);
        }
    }

    private void throughputPhase() throws Exception {
        Child b = sharedBroker();
        String seconds = Double.toString(settings.seconds());
        Child client = children.start("throughput-client", CLIENT_CPU, settings.clientJvm(), work,
                "throughput-client", brokerSocket(b).toString(), Long.toString(b.pid()), SERVICE, VERSION,
                Integer.toString(settings.clients()), "2", seconds, seconds, settings.rate() + ",0.75c",
                work.resolve("throughput.properties").toString());
        children.awaitExit(client, CLIENT_TIMEOUT);
        throughput = Results.read(work.resolve("throughput.properties"));
        Map<String, Long> status = Proc.status(b.pid());
        afterTraffic.put("rss_mib", mib(status.get("VmRSS")));
        afterTraffic.put("hwm_mib", mib(status.get("VmHWM")));
        afterTraffic.put("threads", status.get("Threads"));
        children.stop(b);
    }

    /**
     * Figure 6 with one set of broker JVM options: a fresh broker whose Hello deadline
     * outlasts the measurement, so the idle connections stay open.
     */
    private void memoryPhase(String run, List<String> extraJvm) throws Exception {
        Map<String, Object> sizes = new LinkedHashMap<>();
        memory.put(run, sizes);
        sizes.put("jvm_options", String.join(" ", extraJvm));
        Child memoryBroker = startBroker("memory-broker-" + run, "5m", extraJvm);
        long limit = Proc.openFilesLimit(memoryBroker.pid());
        sizes.put("broker_open_files_limit", limit);
        if (limit >= 0 && limit < settings.connections() + 200L) {
            throw new IOException("the broker may open only " + limit + " files, fewer than "
                    + settings.connections() + " connections need; raise the hard limit (ulimit -Hn)");
        }
        Path markers = Files.createDirectories(work.resolve("markers-" + run));
        Path resultFile = work.resolve("idle-" + run + ".properties");
        Child client = children.start("idle-client-" + run, CLIENT_CPU, settings.clientJvm(), work, "idle-client",
                brokerSocket(memoryBroker).toString(), SERVICE, VERSION, "10000",
                Integer.toString(settings.connections()), "100", "500", markers.toString(), resultFile.toString());
        awaitMarker(client, markers.resolve("idle.warmed"));
        Thread.sleep(1_000);
        Map<String, Long> baseline = Proc.status(memoryBroker.pid());
        int baselineFds = Proc.descriptors(memoryBroker.pid());
        sizes.put("baseline_rss_mib", mib(baseline.get("VmRSS")));
        sizes.put("baseline_fds", baselineFds);
        client.send("continue");

        awaitMarker(client, markers.resolve("idle.opened"));
        int expected = baselineFds + settings.connections();
        long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
        int fds;
        while ((fds = Proc.descriptors(memoryBroker.pid())) < expected && System.nanoTime() - deadline < 0) {
            Thread.sleep(100);
        }
        Thread.sleep(2_000); // let the loop settle before reading its size
        Map<String, Long> held = Proc.status(memoryBroker.pid());
        sizes.put("fds", Proc.descriptors(memoryBroker.pid()));
        sizes.put("rss_mib", mib(held.get("VmRSS")));
        sizes.put("rss_anon_mib", mib(held.get("RssAnon")));
        sizes.put("rss_file_mib", mib(held.get("RssFile")));
        sizes.put("hwm_mib", mib(held.get("VmHWM")));
        sizes.put("threads", held.get("Threads"));
        sizes.put("per_connection_kib", Report.round(
                (held.get("VmRSS") - baseline.get("VmRSS")) / (double) settings.connections()));
        sizes.put("all_accepted", fds >= expected);
        client.send("continue");
        children.awaitExit(client, CLIENT_TIMEOUT);
        idle.put(run, Results.read(resultFile));
        children.stop(memoryBroker);
    }

    // ---- evaluation -----------------------------------------------------------------------

    private void evaluate() {
        if (latency != null) {
            evaluateLatency(latency);
        }
        if (routes != null) {
            evaluateRoutes(routes);
        }
        if (routeFloor != null) {
            evaluateRouteFloor(routeFloor);
        }
        if (throughput != null) {
            evaluateThroughput(throughput);
        }
        memory.forEach(this::evaluateMemory);
        report.notes.add("Hello samples time the client SDK's BrokerClient.exchange: connect, write the Hello, "
                + "read the reply, close. The handoff and reconnect samples time BrokerClient.connect plus one "
                + "16-byte echo on the connection it returns.");
        report.notes.add("The machine may have been running other work; see the load averages and the "
                + "throughput's CPU accounting.");
    }

    private void evaluateLatency(Results l) {
        Histogram floor = l.histogram("floor");
        Histogram connectFloor = l.histogram("connect-floor");
        Histogram hello = l.histogram("hello");
        report.figures.add(new Figure("floor", "1. floor: 1-byte ping-pong between 2 processes",
                floor.getTotalCount(), floor, "", Map.of(), "—", Verdict.INFO, ""));
        report.figures.add(new Figure("connect_floor",
                "1b. connect floor: fresh connection, 1 byte each way, close", connectFloor.getTotalCount(),
                connectFloor, "", Map.of(), "—", Verdict.INFO,
                "what a fresh junixsocket connection costs with a blocking accept thread and no broker logic"));
        long helloFailures = l.getLong("hello.failures");
        double helloP50 = Report.p(hello, 50);
        double helloP99 = Report.p(hello, 99);
        double floorP50 = Report.p(floor, 50);
        boolean enough = hello.getTotalCount() >= 10_000;
        boolean p50ok = helloP50 <= 200;
        boolean p99ok = helloP99 <= 1_000;
        boolean ratioOk = helloP50 <= 1.5 * floorP50;
        Verdict helloVerdict = helloFailures > 0 ? Verdict.INVALID : Verdict.of(enough && p50ok && p99ok && ratioOk);
        List<String> notes = new ArrayList<>();
        Map<String, Object> numbers = new LinkedHashMap<>();
        numbers.put("failures", helloFailures);
        double[] inBroker = brokerMeans.get("hello");
        if (inBroker != null && inBroker[1] > 0) {
            Histogram both = hello.copy();
            both.add(l.histogram("hello-paced"));
            numbers.put("broker_mean_accept_to_reply_us", Report.round(inBroker[0]));
            numbers.put("client_mean_us", Report.round(both.getMean() / 1000.0));
            notes.add(String.format(Locale.ROOT, "over the %,.0f Hellos of 2 and 2b, the broker's own timer "
                    + "(accept → reply written) averaged %s µs, the client's round trip %s µs",
                    inBroker[1], Report.us(inBroker[0]), Report.us(both.getMean() / 1000.0)));
        }
        notes.add(warmUpNote(l, "the broker, the floor server and the client", "rounds of floor, connect floor "
                + "and Hello"));
        if (helloFailures > 0) {
            notes.add("INVALID: failed Hellos: " + l.get("hello.failures.detail"));
        }
        report.figures.add(new Figure("hello", "2. Hello round trip, fresh connection", hello.getTotalCount(),
                hello, "", numbers, "P50 ≤ 200, P99 ≤ 1,000, P50 ≤ 1.5× floor", helloVerdict,
                String.join("; ", notes)));
        Histogram paced = l.histogram("hello-paced");
        report.figures.add(new Figure("hello_paced", "2b. Hello round trip, one every 1 ms", paced.getTotalCount(),
                paced, "", Map.of(), "—", Verdict.INFO,
                "each Hello finds the broker's loop asleep in its wait, as a sporadic client's does"));
        report.ratios.add(new Ratio("Hello P50 / floor P50", helloP50 / floorP50, "≤ 1.5"));
        report.ratios.add(new Ratio("Hello P99 / floor P99", helloP99 / Report.p(floor, 99), "—"));
        report.ratios.add(new Ratio("Hello P50 / connect floor P50", helloP50 / Report.p(connectFloor, 50), "—"));
        String count = String.format(Locale.ROOT, " (%,d samples)", hello.getTotalCount());
        report.checks.add(new Check("Hello P50 ≤ 200 µs, 10,000 samples", Report.us(helloP50) + " µs" + count,
                helloFailures > 0 ? Verdict.INVALID : Verdict.of(p50ok && enough)));
        report.checks.add(new Check("Hello P99 ≤ 1 ms", Report.us(helloP99) + " µs",
                helloFailures > 0 ? Verdict.INVALID : Verdict.of(p99ok && enough)));
        report.checks.add(new Check("Hello P50 ≤ 1.5 × floor P50 (same run)",
                String.format(Locale.ROOT, "%s µs vs 1.5 × %s µs: %.1f×", Report.us(helloP50), Report.us(floorP50),
                        helloP50 / floorP50),
                helloFailures > 0 ? Verdict.INVALID : Verdict.of(ratioOk)));
    }

    private void evaluateRoutes(Results r) {
        Histogram handoff = r.histogram("handoff");
        Histogram reconnect = r.histogram("reconnect");
        long fallbacks = r.getLong("handoff.fallbacks");
        long unexpected = r.getLong("reconnect.unexpected");
        long errors = r.getLong("errors");
        boolean valid = fallbacks == 0 && errors == 0 && unexpected == 0 && handoff.getTotalCount() > 0;
        List<String> notes = new ArrayList<>();
        if (fallbacks > 0) {
            notes.add("INVALID: " + fallbacks + " handoffs fell back: " + r.get("fallbacks.detail"));
        }
        if (errors > 0) {
            notes.add("INVALID: " + errors + " samples failed: " + r.get("errors.detail"));
        }
        Map<String, Object> numbers = new LinkedHashMap<>();
        numbers.put("fallbacks", fallbacks);
        numbers.put("errors", errors);
        double[] inBroker = brokerMeans.get("handoff");
        if (inBroker != null && inBroker[1] > 0) {
            numbers.put("broker_mean_decision_to_relay_us", Report.round(inBroker[0]));
            notes.add(String.format(Locale.ROOT, "the broker's own handoff timer (Hello decided → relay written) "
                    + "averaged %s µs over the %,.0f measured handoffs", Report.us(inBroker[0]), inBroker[1]));
        }
        notes.add(warmUpNote(r, "the broker, the backend and the client", "pairs"));
        double[] helloPart = brokerMeans.get("route-hello");
        if (helloPart != null && helloPart[1] > 0) {
            notes.add(String.format(Locale.ROOT, "its Hello part (accept → Negotiated written) averaged %s µs over "
                    + "the %,.0f Hellos of both routes", Report.us(helloPart[0]), helloPart[1]));
        }
        double h50 = Report.p(handoff, 50);
        double h99 = Report.p(handoff, 99);
        double r50 = Report.p(reconnect, 50);
        double r99 = Report.p(reconnect, 99);
        report.figures.add(new Figure("handoff", "3. handoff: Hello → relay → first request/response",
                handoff.getTotalCount(), handoff, "", numbers, "P50 and P99 < reconnect",
                valid ? Verdict.of(h50 < r50 && h99 < r99) : Verdict.INVALID, String.join("; ", notes)));
        report.figures.add(new Figure("reconnect",
                "4. reconnect: Hello → Negotiated → connect backend_pipe → first request/response",
                reconnect.getTotalCount(), reconnect, "", Map.of("unexpected_routes", unexpected), "—",
                unexpected > 0 ? Verdict.INVALID : Verdict.INFO,
                unexpected > 0 ? "INVALID: " + unexpected + " connections were handed off" : ""));
        addRouteCost(r, "handoff", Route.HANDED_OFF);
        addRouteCost(r, "reconnect", Route.RECONNECTED);
        report.ratios.add(new Ratio("handoff P50 / reconnect P50", h50 / r50, "< 1"));
        report.ratios.add(new Ratio("handoff P99 / reconnect P99", h99 / r99, "< 1"));
        report.checks.add(new Check("handoff strictly faster than reconnect at P50",
                Report.us(h50) + " vs " + Report.us(r50) + " µs" + (fallbacks > 0 ? ", fallbacks " + fallbacks : ""),
                valid ? Verdict.of(h50 < r50) : Verdict.INVALID));
        report.checks.add(new Check("handoff strictly faster than reconnect at P99",
                Report.us(h99) + " vs " + Report.us(r99) + " µs", valid ? Verdict.of(h99 < r99) : Verdict.INVALID));
    }

    /** How long a warm-up took ({@link WarmUp}), and whether the JIT compilers were quiet at its end. */
    private static String warmUpNote(Results r, String processes, String samples) {
        long count = r.getLong("warmup.samples");
        double share = r.getDouble("warmup.jit_share");
        String took = String.format(Locale.ROOT, "warm-up: %,d %s, until the JIT compilers of %s took "
                + "%.1f%% of the wall time of the last %,d", count, samples, processes, 100 * share, WarmUp.ROUND);
        // Not quiet: the compilers were over the share, or one of their threads ended in the last round.
        return Boolean.parseBoolean(r.get("warmup.quiet")) ? took
                : took + " (not quiet when the most was reached: the figures may include compiling)";
    }

    /** Informative: what one route alone cost each process, when the client accounted for it. */
    private void addRouteCost(Results r, String name, Route route) {
        String key = "cost." + route.label();
        if (r.get(key + ".count", "").isEmpty()) {
            return;
        }
        List<ProcessCost> processes = new ArrayList<>();
        for (String process : List.of("broker", "backend", "client")) {
            String of = key + "." + process;
            processes.add(new ProcessCost(process, r.getDouble(of + ".cpu_us"), r.getDouble(of + ".jit_us"),
                    r.getDouble(of + ".wakeups"), r.getDouble(of + ".preemptions")));
        }
        long failed = r.getLong(key + ".failed");
        report.routeCosts.add(new RouteCost(name, r.getLong(key + ".count"), failed, r.getDouble(key + ".wall_us"),
                r.getDouble(key + ".p50_us"), r.getDouble(key + ".p99_us"), processes));
        if (failed > 0) {
            report.notes.add("INVALID: the " + name + " accounting had " + failed + " failed connections: "
                    + r.get(key + ".failed.detail"));
        }
    }

    /** Informative: what is left of figures 3 and 4 without the broker's and the backend's logic. */
    private void evaluateRouteFloor(Results f) {
        Histogram handoff = f.histogram("handoff-floor");
        Histogram reconnect = f.histogram("reconnect-floor");
        long errors = f.getLong("errors");
        Verdict verdict = errors > 0 ? Verdict.INVALID : Verdict.INFO;
        String failed = errors > 0 ? "INVALID: " + errors + " samples failed: " + f.get("errors.detail") : "";
        report.figures.add(new Figure("handoff_floor",
                "3f. handoff floor: the same messages, no broker or backend logic", handoff.getTotalCount(),
                handoff, "", Map.of("errors", errors), "—", verdict, errors > 0 ? failed
                        : "a one-thread broker and a backend doing the SDK's steps for a StreamHandler (ACK first, then "
                                + "file streams on the descriptor on a pooled handler thread) exchange bytes as long "
                                + "as the real frames, with junixsocket's blocking sockets; nothing is encoded, "
                                + "decoded or checked; " + warmUpNote(f, "its broker, backend and client", "pairs")));
        report.figures.add(new Figure("reconnect_floor",
                "4f. reconnect floor: the same messages, no broker or backend logic", reconnect.getTotalCount(),
                reconnect, "", Map.of("errors", errors), "—", verdict, failed));
        report.ratios.add(new Ratio("handoff floor P50 / reconnect floor P50",
                Report.p(handoff, 50) / Report.p(reconnect, 50), "—"));
        report.ratios.add(new Ratio("handoff floor P99 / reconnect floor P99",
                Report.p(handoff, 99) / Report.p(reconnect, 99), "—"));
    }

    private void evaluateMemory(String run, Map<String, Object> sizes) {
        if (!sizes.containsKey("rss_mib")) {
            return;
        }
        boolean judged = run.equals("defaults");
        String options = (String) sizes.get("jvm_options");
        double rss = (double) sizes.get("rss_mib");
        boolean all = (boolean) sizes.get("all_accepted");
        int connections = settings.connections();
        Map<String, Object> numbers = new LinkedHashMap<>(sizes);
        String note = String.format(Locale.ROOT, "anon %.0f MiB, file %.0f MiB; %.1f KiB per connection; "
                        + "%s descriptors", sizes.get("rss_anon_mib"), sizes.get("rss_file_mib"),
                sizes.get("per_connection_kib"), sizes.get("fds"));
        if (judged && afterTraffic.containsKey("rss_mib")) {
            numbers.put("broker_after_phases_2_to_5_rss_mib", afterTraffic.get("rss_mib"));
            note += String.format(Locale.ROOT, "; the broker that served phases 2–5 was %.0f MiB after them",
                    afterTraffic.get("rss_mib"));
        }
        if (!all) {
            note += "; INVALID: the broker did not accept every connection";
        }
        String title = String.format(Locale.ROOT, "6%s. broker resident size, %,d idle connections%s",
                judged ? "" : "c", connections, options.isEmpty() ? "" : ", " + options);
        report.figures.add(new Figure(judged ? "memory" : "memory_" + run, title, connections, null,
                String.format(Locale.ROOT, "%.0f MiB (%.0f MiB before)", rss, sizes.get("baseline_rss_mib")), numbers,
                judged ? "≤ 256 MiB" : "—", !all ? Verdict.INVALID : judged ? Verdict.of(rss <= 256) : Verdict.INFO,
                note));
        if (judged) {
            report.checks.add(new Check(String.format(Locale.ROOT, "≤ 256 MiB resident with %,d client connections",
                    connections), String.format(Locale.ROOT, "%.0f MiB", rss),
                    all ? Verdict.of(rss <= 256) : Verdict.INVALID));
        }
        Results idleRun = idle.get(run);
        if (judged && idleRun != null) {
            Histogram withIdle = idleRun.histogram("hello-with-idle");
            report.figures.add(new Figure("hello_with_idle", String.format(Locale.ROOT,
                    "6b. Hello round trip with %,d idle connections open, one every 1 ms", connections),
                    withIdle.getTotalCount(),
                    withIdle, "", Map.of(), "—", Verdict.INFO,
                    idleRun.getLong("failures") > 0 ? "failed Hellos: " + idleRun.get("failures.detail") : ""));
        }
    }

    private void evaluateThroughput(Results t) {
        int clients = (int) t.getLong("clients");
        Histogram closed = t.histogram("closed");
        double capacity = t.getDouble("closed.rate");
        Map<String, Object> closedNumbers = new LinkedHashMap<>();
        closedNumbers.put("rate_per_s", Report.round(capacity));
        closedNumbers.put("failures", t.getLong("closed.failures"));
        String closedCpu = cpu(t, "closed", t.getLong("closed.completed"), closedNumbers);
        report.figures.add(new Figure("throughput_closed", String.format(Locale.ROOT,
                "5a. throughput, %d clients, closed loop (capacity)", clients), t.getLong("closed.completed"), closed,
                String.format(Locale.ROOT, "%,.0f Hellos/s", capacity), closedNumbers, "—", Verdict.INFO,
                "service times of a closed loop: queueing is hidden (coordinated omission), the rate is what "
                        + "counts here; " + closedCpu));
        String[] runs = t.get("fixed.runs").split(",");
        for (int r = 0; r < runs.length; r++) {
            String key = runs[r];
            Histogram fromIntended = t.histogram(key + ".intended");
            double offered = t.getDouble(key + ".offered");
            double achieved = t.getDouble(key + ".achieved");
            long notSent = t.getLong(key + ".notSent");
            long failed = t.getLong(key + ".failures");
            boolean isTarget = r == 0;
            boolean sustained = notSent == 0 && failed == 0 && achieved >= 0.99 * offered;
            Histogram service = t.histogram(key + ".service");
            Map<String, Object> numbers = new LinkedHashMap<>();
            numbers.put("offered_per_s", Report.round(offered));
            numbers.put("achieved_per_s", Report.round(achieved));
            numbers.put("scheduled", t.getLong(key + ".scheduled"));
            numbers.put("not_sent", notSent);
            numbers.put("failures", failed);
            numbers.put("service_p50_us", Report.round(Report.p(service, 50)));
            numbers.put("service_p99_us", Report.round(Report.p(service, 99)));
            String fixedCpu = cpu(t, key, t.getLong(key + ".completedInWindow"), numbers);
            report.figures.add(new Figure(isTarget ? "throughput_target" : "throughput_fixed",
                    String.format(Locale.ROOT, "5%s. fixed rate %,.0f/s offered%s, latency from intended start",
                            isTarget ? "b" : "c", offered,
                            isTarget ? "" : " (" + ofCapacity(t.get(key + ".spec")) + ")"),
                    t.getLong(key + ".completed"), fromIntended,
                    String.format(Locale.ROOT, "%,.0f Hellos/s achieved", achieved), numbers,
                    isTarget ? "≥ " + String.format(Locale.ROOT, "%,d", settings.rate()) + "/s sustained" : "—",
                    isTarget ? Verdict.of(sustained) : Verdict.INFO,
                    String.format(Locale.ROOT, "service time P50 %s µs, P99 %s µs; %,d scheduled, %,d not sent "
                                    + "before the hard stop%s; %s", Report.us(Report.p(service, 50)),
                            Report.us(Report.p(service, 99)), t.getLong(key + ".scheduled"), notSent,
                            failed > 0 ? "; " + failed + " failed" : "", fixedCpu)));
            if (isTarget) {
                report.checks.add(new Check(String.format(Locale.ROOT, "≥ %,d Hellos/s, %d concurrent clients in "
                                + "another process", settings.rate(), clients),
                        String.format(Locale.ROOT, "capacity %,.0f/s (closed loop); at %,.0f/s offered: %,.0f/s "
                                + "achieved, P99 %s µs from intended start", capacity, offered, achieved,
                                Report.us(Report.p(fromIntended, 99))),
                        Verdict.of(sustained && capacity >= settings.rate())));
            }
        }
        if (!t.get("failures.detail").isEmpty()) {
            report.notes.add("Throughput client failures: " + t.get("failures.detail"));
        }
    }

    /** The CPU accounting of a throughput window, as numbers and as a sentence. */
    private static String cpu(Results t, String key, long hellos, Map<String, Object> numbers) {
        double window = t.getDouble(key + ".cpu.window_s");
        double brokerCpu = t.getDouble(key + ".cpu.broker_s");
        double clientCpu = t.getDouble(key + ".cpu.client_s");
        double busy = t.getDouble(key + ".cpu.machine_busy_s");
        double total = t.getDouble(key + ".cpu.machine_total_s");
        double other = busy - brokerCpu - clientCpu;
        double perHello = 1e6 / Math.max(1, hellos);
        numbers.put("broker_cpu_us_per_hello", Report.round(brokerCpu * perHello));
        numbers.put("client_cpu_us_per_hello", Report.round(clientCpu * perHello));
        numbers.put("broker_cpus_used", Report.round(brokerCpu / window));
        numbers.put("client_cpus_used", Report.round(clientCpu / window));
        numbers.put("other_cpus_used", Report.round(other / window));
        numbers.put("machine_idle_cpus", Report.round((total - busy) / window));
        return String.format(Locale.ROOT, "CPU per Hello: broker %.0f µs, client %.0f µs; CPUs busy: broker %.2f, "
                        + "client %.2f, everything else %.2f, idle or stolen %.2f", brokerCpu * perHello, clientCpu * perHello,
                brokerCpu / window, clientCpu / window, other / window, (total - busy) / window);
    }

    // ---- helpers --------------------------------------------------------------------------

    private static double mib(@Nullable Long kib) {
        return kib == null ? Double.NaN : Report.round(kib / 1024.0);
    }

    private static String firstLine(@Nullable String message) {
        if (message == null) {
            return "";
        }
        int newline = message.indexOf('\n');
        return newline < 0 ? message : message.substring(0, newline);
    }

    /** Waits until the socket accepts a connection, failing early when the child died. */
    private static void awaitSocket(Child child, Path socket) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
        while (System.nanoTime() - deadline < 0) {
            if (!child.process().isAlive()) {
                throw new IOException(child.name() + " exited with status " + child.process().exitValue()
                        + "; its log:\n" + child.logTail());
            }
            if (Files.exists(socket)) {
                try {
                    AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(socket)).close();
                    return;
                } catch (IOException notYet) {
                    // Bound but not listening yet.
                }
            }
            Thread.sleep(50);
        }
        throw new IOException(child.name() + " did not open " + socket + " in time; its log:\n" + child.logTail());
    }

    private static void awaitMarker(Child child, Path marker) throws Exception {
        long deadline = System.nanoTime() + Duration.ofMinutes(3).toNanos();
        while (!Files.exists(marker)) {
            if (!child.process().isAlive() || System.nanoTime() - deadline > 0) {
                throw new IOException(child.name() + " did not reach " + marker.getFileName() + "; its log:\n"
                        + child.logTail());
            }
            Thread.sleep(50);
        }
    }

    private static void deleteTree(Path root) {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(root)) {
            paths.sorted(Comparator.reverseOrder()).forEach(path -> {
                try {
                    Files.deleteIfExists(path);
                } catch (IOException ignored) {
                    // Best effort: a temp directory.
                }
            });
        } catch (IOException ignored) {
            // Best effort.
        }
    }

    // A rate given as "0.75c" (a share of the capacity just measured) as a reader would write it.
    private static String ofCapacity(String spec) {
        return spec.endsWith("c") ? spec.substring(0, spec.length() - 1) + " × capacity" : spec + "/s";
    }
}
