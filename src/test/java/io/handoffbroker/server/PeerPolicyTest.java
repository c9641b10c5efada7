package io.handoffbroker.server;

import static io.handoffbroker.server.ListenerTestSupport.await;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Message;
import io.handoffbroker.negotiation.PeerIdentity;
import io.handoffbroker.negotiation.ServiceBackend;
import io.handoffbroker.testing.BrokerFixture;
import io.handoffbroker.testing.RawClient;
import io.handoffbroker.wire.FrameIO;
import io.handoffbroker.unix.ProcessUser;
import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;

/**
 * The peer policy decides from the kernel-verified uid of each connection; a peer
 * it does not admit is closed without a single reply byte. The foreign-uid cases
 * run a real client in a child JVM as uid 65534 ({@code nobody}).
 */
class PeerPolicyTest {

    private static final long FOREIGN_UID = 65534;

    @TempDir
    Path dir;

    private BrokerFixture broker;
    private final RecordingEvents events = new RecordingEvents();

    /** Records the peers the listener rejected. */
    static final class RecordingEvents implements BrokerEvents {
        final List<PeerIdentity> rejected = new CopyOnWriteArrayList<>();

        @Override
        public void peerRejected(PeerIdentity peer) {
            rejected.add(peer);
        }
    }

    @AfterEach
    void stopBroker() {
        if (broker != null) {
            broker.close();
        }
    }

    private BrokerFixture start(PeerPolicy policy) throws IOException {
        broker = new BrokerFixture(dir)
                .service(ServiceBackend.reconnectOnly("echo", "1.2.3", dir.resolve("echo.sock")))
                .peerPolicy(policy)
                .events(events)
                .start();
        return broker;
    }

    private static String mode(Path path) throws IOException {
        return PosixFilePermissions.toString(Files.getPosixFilePermissions(path, LinkOption.NOFOLLOW_LINKS));
    }

    // --- this process ----------------------------------------------------------------------------

    @Test
    void sameUidPolicyAdmitsThisProcessAndKeepsTheSocketFilePrivate() throws Exception {
        start(new PeerPolicy.SameUid(ProcessUser.uid()));

        assertThat(mode(broker.socketPath())).isEqualTo("rw-------");
        try (RawClient client = broker.connect()) {
            assertThat(client.hello(RawClient.hello("echo", "1.2.3")).hasNegotiated()).isTrue();
        }
        assertThat(events.rejected).isEmpty();
    }

    @Test
    void allowedUidsWithoutThisProcessUidClosesItWithoutAnyReplyBytes() throws Exception {
        long ownUid = ProcessUser.uid();
        Assumptions.assumeTrue(ownUid != 12345, "this process must not run as uid 12345");
        start(new PeerPolicy.AllowedUids(Set.of(12345L)));
        assertThat(mode(broker.socketPath())).as("a shared policy opens the socket file").isEqualTo("rw-rw-rw-");

        try (UnixChannelClient client = UnixChannelClient.connect(broker.socketPath())) {
            // The broker may already have closed: the Hello is irrelevant to a rejected peer.
            client.send(FrameIO.encode(RawClient.helloFrame(RawClient.hello("echo", "1.2.3"), 1)),
                    Duration.ofSeconds(2));

            UnixChannelClient.Received received = client.readUntilClosed(Duration.ofSeconds(5));

            assertThat(received.closed()).as("the broker closed the rejected peer").isTrue();
            assertThat(received.bytes()).as("reply bytes to a rejected peer").isEmpty();
        }
        await("the rejection to be reported", Duration.ofSeconds(5), () -> !events.rejected.isEmpty());
        assertThat(events.rejected).singleElement().satisfies(peer -> {
            assertThat(peer.uid()).isEqualTo(ownUid);
            assertThat(peer.pid()).isEqualTo(ProcessHandle.current().pid());
        });
        assertThat(broker.server().openConnections()).isZero();
    }

    @Test
    @ExtendWith(OutputCaptureExtension.class)
    void aPeerKeptOutOverAndOverIsCountedEachTimeAndWarnedOfOnce(CapturedOutput output) throws Exception {
        Assumptions.assumeTrue(ProcessUser.uid() != 12345, "this process must not run as uid 12345");
        start(new PeerPolicy.AllowedUids(Set.of(12345L)));

        for (int i = 0; i < 50; i++) {
            try (UnixChannelClient client = UnixChannelClient.connect(broker.socketPath())) {
                assertThat(client.readUntilClosed(Duration.ofSeconds(5)).closed()).isTrue();
            }
        }

        await("every rejection reported", Duration.ofSeconds(5), () -> events.rejected.size() == 50);
        // The process kept out does not decide how much the broker logs.
        assertThat(output.getOut().lines().filter(line -> line.contains("rejected peer pid="))).as(output.getOut())
                .singleElement().asString().contains("uid=" + ProcessUser.uid())
                .contains("1 rejected since the last such warning");
    }

    // --- a real second uid -----------------------------------------------------------------------

    @Test
    void sameUidPolicyClosesAClientOfAnotherUidWithoutReplyEvenWhenTheSocketFileLetsItIn() throws Exception {
        ForeignChild child = ForeignChild.prepare(dir);
        start(new PeerPolicy.SameUid(ProcessUser.uid()));
        // Loosen the file mode so the kernel lets the child connect: the policy alone must keep it out.
        Files.setPosixFilePermissions(broker.socketPath(), PosixFilePermissions.fromString("rw-rw-rw-"));

        String result = child.run(broker.socketPath());

        assertThat(result).isEqualTo("closed");
        await("the rejection to be reported", Duration.ofSeconds(5), () -> !events.rejected.isEmpty());
        assertThat(events.rejected).singleElement().extracting(PeerIdentity::uid).isEqualTo(FOREIGN_UID);
    }

    @Test
    void sameUidPolicySocketFileModeKeepsAClientOfAnotherUidFromConnecting() throws Exception {
        ForeignChild child = ForeignChild.prepare(dir);
        start(new PeerPolicy.SameUid(ProcessUser.uid()));

        String result = child.run(broker.socketPath());

        assertThat(result).startsWith("connect-failed:");
        assertThat(events.rejected).isEmpty();
    }

    @Test
    void allowedUidsNamingTheClientsUidAdmitsAClientOfAnotherUid() throws Exception {
        ForeignChild child = ForeignChild.prepare(dir);
        start(new PeerPolicy.AllowedUids(Set.of(FOREIGN_UID)));
        assertThat(mode(broker.socketPath())).isEqualTo("rw-rw-rw-");

        String result = child.run(broker.socketPath());

        assertThat(result).as("anything but closed; a valid Hello is negotiated").isEqualTo("negotiated");
        assertThat(events.rejected).isEmpty();
    }

    /**
     * Runs {@link ForeignUidClient} in a child JVM as uid 65534. The test's own
     * classpath lives under /root (mode 0700), which that uid cannot read, so the
     * few entries the child needs are copied to a world-readable directory; the
     * temporary directory chain is opened to traversal (0711), which the broker
     * accepts because it is not group- or world-writable.
     */
    record ForeignChild(List<String> command, Path workDir) {

        static ForeignChild prepare(Path dir) throws IOException {
            Assumptions.assumeTrue(ProcessUser.uid() == 0,
                    "switching to uid 65534 for the child client needs root; this JVM runs as uid "
                            + ProcessUser.uid());
            Optional<Path> setpriv = onPath("setpriv");
            Assumptions.assumeTrue(setpriv.isPresent(),
                    "setpriv (util-linux) is not installed: cannot start a client as another uid");
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx--x--x"));
            Path brokerDir = Files.createDirectories(dir.resolve("broker"));
            Files.setPosixFilePermissions(brokerDir, PosixFilePermissions.fromString("rwx--x--x"));
            Path workDir = Files.createDirectories(dir.resolve("child-tmp"));
            Files.setPosixFilePermissions(workDir, PosixFilePermissions.fromString("rwxrwxrwx"));
            String classpath = readableClasspath(Files.createDirectories(dir.resolve("cp")));
            Path java = Path.of(System.getProperty("java.home"), "bin", "java");
            List<String> command = List.of(setpriv.get().toString(), "--reuid=" + FOREIGN_UID,
                    "--regid=" + FOREIGN_UID, "--clear-groups",
                    java.toString(), "--enable-native-access=ALL-UNNAMED", "-XX:TieredStopAtLevel=1",
                    "-XX:-UsePerfData", "-Xshare:auto", "-Djava.io.tmpdir=" + workDir, "-Duser.home=" + workDir,
                    "-cp", classpath, ForeignUidClient.class.getName());
            return new ForeignChild(command, workDir);
        }

        /** Runs the child against the socket; returns its {@code result=} value. */
        String run(Path socket) throws Exception {
            List<String> cmd = new ArrayList<>(command);
            cmd.add(socket.toString());
            ProcessBuilder builder = new ProcessBuilder(cmd).directory(workDir.toFile()).redirectErrorStream(true);
            Map<String, String> env = builder.environment();
            env.remove("JAVA_TOOL_OPTIONS");
            env.remove("_JAVA_OPTIONS");
            env.remove("JDK_JAVA_OPTIONS");
            Process process = builder.start();
            CompletableFuture<String> output = CompletableFuture.supplyAsync(() -> {
                try {
                    return new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new AssertionError("the child client did not finish within 30 s: " + cmd);
            }
            String out = output.get(5, TimeUnit.SECONDS);
            Map<String, String> values = out.lines().filter(l -> l.contains("="))
                    .collect(Collectors.toMap(l -> l.substring(0, l.indexOf('=')),
                            l -> l.substring(l.indexOf('=') + 1), (a, b) -> a));
            if (!String.valueOf(FOREIGN_UID).equals(values.get("uid"))) {
                Assumptions.assumeFalse(out.contains("setpriv:"),
                        "setpriv could not switch to uid " + FOREIGN_UID + " here: " + out.strip());
                throw new AssertionError("the child did not run as uid " + FOREIGN_UID + " (exit "
                        + process.exitValue() + "): " + out);
            }
            assertThat(values).as("child output: %s", out).containsKey("result");
            return values.get("result");
        }

        private static Optional<Path> onPath(String program) {
            String path = Optional.ofNullable(System.getenv("PATH")).orElse("/usr/bin:/bin");
            return Stream.concat(Stream.of(path.split(File.pathSeparator)), Stream.of("/usr/bin", "/bin"))
                    .filter(p -> !p.isEmpty())
                    .map(p -> Path.of(p, program)).filter(Files::isExecutable).findFirst();
        }

        // What the child needs: the compiled test and main classes, and protobuf.
        private static String readableClasspath(Path target) throws IOException {
            Set<Path> needed = new LinkedHashSet<>();
            for (Class<?> type : List.of(ForeignUidClient.class, FrameIO.class, Message.class)) {
                needed.add(codeSource(type));
            }
            Files.setPosixFilePermissions(target, PosixFilePermissions.fromString("rwxr-xr-x"));
            List<String> copied = new ArrayList<>();
            int n = 0;
            for (Path source : needed) {
                Path copy = target.resolve((n++) + "-" + source.getFileName());
                copyWorldReadable(source, copy);
                copied.add(copy.toString());
            }
            return String.join(File.pathSeparator, copied);
        }

        private static Path codeSource(Class<?> type) {
            try {
                return Path.of(type.getProtectionDomain().getCodeSource().getLocation().toURI());
            } catch (URISyntaxException e) {
                throw new IllegalStateException(e);
            }
        }

        private static void copyWorldReadable(Path source, Path copy) throws IOException {
            if (Files.isDirectory(source)) {
                try (Stream<Path> tree = Files.walk(source)) {
                    for (Path from : (Iterable<Path>) tree::iterator) {
                        Path to = copy.resolve(source.relativize(from).toString());
                        if (Files.isDirectory(from)) {
                            Files.createDirectories(to);
                            Files.setPosixFilePermissions(to, PosixFilePermissions.fromString("rwxr-xr-x"));
                        } else {
                            Files.copy(from, to, StandardCopyOption.REPLACE_EXISTING);
                            Files.setPosixFilePermissions(to, PosixFilePermissions.fromString("rw-r--r--"));
                        }
                    }
                }
            } else {
                Files.copy(source, copy, StandardCopyOption.REPLACE_EXISTING);
                Files.setPosixFilePermissions(copy, PosixFilePermissions.fromString("rw-r--r--"));
            }
        }
    }
}
