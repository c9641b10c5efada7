package io.handoffbroker.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.handoffbroker.unix.ProcessUser;
import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;

/**
 * Runs a small main class in a child JVM as uid 65534 ({@code nobody}), for what only another
 * user's process can show. The test's own classpath lives under /root (mode 0700), which that uid
 * cannot read, so the entries the child needs are copied to a world-readable directory; the
 * temporary directory and its {@code broker} subdirectory are opened to traversal (0711), which
 * the broker accepts because they are not group- or world-writable. The child prints
 * {@code key=value} lines: {@code uid=} its uid, and {@code result=} what it saw. Skipped (an
 * assumption) unless this JVM runs as root and setpriv is installed.
 */
record ForeignUidChild(List<String> command, Path workDir) {

    static final long UID = 65534;

    /**
     * @param main the child's main class
     * @param needs classes whose class path entries the child needs (the main class's is added)
     */
    static ForeignUidChild prepare(Path dir, Class<?> main, Class<?>... needs) throws IOException {
        Assumptions.assumeTrue(ProcessUser.uid() == 0,
                "switching to uid " + UID + " for the child needs root; this JVM runs as uid " + ProcessUser.uid());
        Optional<Path> setpriv = onPath("setpriv");
        Assumptions.assumeTrue(setpriv.isPresent(),
                "setpriv (util-linux) is not installed: cannot start a process as another uid");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx--x--x"));
        Path brokerDir = Files.createDirectories(dir.resolve("broker"));
        Files.setPosixFilePermissions(brokerDir, PosixFilePermissions.fromString("rwx--x--x"));
        Path workDir = Files.createDirectories(dir.resolve("child-tmp"));
        Files.setPosixFilePermissions(workDir, PosixFilePermissions.fromString("rwxrwxrwx"));
        Set<Class<?>> classes = new LinkedHashSet<>(List.of(main));
        classes.addAll(List.of(needs));
        String classpath = readableClasspath(classes, Files.createDirectories(dir.resolve("cp")));
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        List<String> command = List.of(setpriv.get().toString(), "--reuid=" + UID, "--regid=" + UID,
                "--clear-groups", java.toString(), "--enable-native-access=ALL-UNNAMED", "-XX:TieredStopAtLevel=1",
                "-XX:-UsePerfData", "-Xshare:auto", "-Djava.io.tmpdir=" + workDir, "-Duser.home=" + workDir,
                "-cp", classpath, main.getName());
        return new ForeignUidChild(command, workDir);
    }

    /** Runs the child with {@code args}; returns its {@code result=} value. */
    String run(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(command);
        cmd.addAll(List.of(args));
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
            throw new AssertionError("the child did not finish within 30 s: " + cmd);
        }
        String out = output.get(5, TimeUnit.SECONDS);
        Map<String, String> values = out.lines().filter(l -> l.contains("="))
                .collect(Collectors.toMap(l -> l.substring(0, l.indexOf('=')),
                        l -> l.substring(l.indexOf('=') + 1), (a, b) -> a));
        if (!String.valueOf(UID).equals(values.get("uid"))) {
            Assumptions.assumeFalse(out.contains("setpriv:"),
                    "setpriv could not switch to uid " + UID + " here: " + out.strip());
            throw new AssertionError("the child did not run as uid " + UID + " (exit " + process.exitValue() + "): "
                    + out);
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

    private static String readableClasspath(Set<Class<?>> classes, Path target) throws IOException {
        Set<Path> needed = new LinkedHashSet<>();
        for (Class<?> type : classes) {
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
