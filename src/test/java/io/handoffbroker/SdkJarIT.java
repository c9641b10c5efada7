package io.handoffbroker;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.spi.ToolProvider;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import org.junit.jupiter.api.Test;

/**
 * The SDK jar the README offers for a plain class path ({@code target/handoff-broker-sdk.jar}):
 * it holds the backend and client SDKs and the two packages they use, and what those classes
 * refer to, as {@code jdeps} reads them, is the JDK, those four packages, and the four jars the
 * README lists beside it (and JSpecify's annotations, which nothing needs at run time).
 *
 * <p>Run by failsafe after {@code package}, against the jar that phase built.
 */
class SdkJarIT {

    private static final String SDK_JAR = "target/handoff-broker-sdk.jar";
    private static final List<String> PACKAGES = List.of("io/handoffbroker/backend/", "io/handoffbroker/client/",
            "io/handoffbroker/wire/", "io/handoffbroker/unix/");
    // The JDK (unix.ProcessUser reads the process's uid through jdk.security.auth), the four packages,
    // junixsocket-common, protobuf-java and slf4j-api; junixsocket-native-common holds the native
    // library junixsocket-common loads, which no class refers to.
    private static final String ALLOWED = "java\\..+|com\\.sun\\.security\\.auth\\.module"
            + "|io\\.handoffbroker\\.(backend|client|wire|wire\\.proto|unix)|org\\.newsclub\\.net\\.unix"
            + "|com\\.google\\.protobuf|org\\.slf4j|org\\.jspecify\\.annotations";

    private static Path sdkJar() {
        return Path.of(System.getProperty("handoffbroker.sdkjar", SDK_JAR)).toAbsolutePath();
    }

    @Test
    void theSdkJarHoldsTheSdksAndThePackagesTheyUseOnly() throws IOException {
        Set<String> classes = new TreeSet<>();
        try (ZipFile jar = new ZipFile(sdkJar().toFile())) {
            for (ZipEntry entry : jar.stream().toList()) {
                String name = entry.getName();
                if (name.startsWith("META-INF/") || name.equals("io/") || name.equals("io/handoffbroker/")) {
                    continue;
                }
                assertThat(PACKAGES).as("%s is in one of the SDK jar's packages", name).anyMatch(name::startsWith);
                if (name.endsWith(".class")) {
                    classes.add(name);
                }
            }
        }
        assertThat(classes).as("classes of each package").anyMatch(c -> c.startsWith("io/handoffbroker/backend/"))
                .anyMatch(c -> c.startsWith("io/handoffbroker/client/"))
                .anyMatch(c -> c.startsWith("io/handoffbroker/wire/proto/"))
                .anyMatch(c -> c.startsWith("io/handoffbroker/unix/"))
                .contains("io/handoffbroker/backend/BackendServer.class",
                        "io/handoffbroker/client/BrokerClient.class");
    }

    @Test
    void theSdkJarsClassesReferToTheJdkThemselvesAndTheFourDependenciesOnly() {
        ToolProvider jdeps = ToolProvider.findFirst("jdeps").orElseThrow();
        StringWriter out = new StringWriter();
        int status = jdeps.run(new PrintWriter(out, true), new PrintWriter(out, true), "-verbose:package",
                "--multi-release", Integer.toString(Runtime.version().feature()), sdkJar().toString());
        assertThat(status).as("jdeps: %s", out).isZero();
        // "   io.handoffbroker.client   -> org.newsclub.net.unix   not found": the jar alone is given.
        Set<String> targets = new TreeSet<>();
        out.toString().lines().map(String::strip).filter(line -> line.startsWith("io.handoffbroker."))
                .forEach(line -> targets.add(line.split("\\s+")[2]));
        assertThat(targets).as("packages the SDK jar's classes refer to").contains("org.newsclub.net.unix",
                "com.google.protobuf", "org.slf4j").allMatch(target -> target.matches(ALLOWED));
    }
}
