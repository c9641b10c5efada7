package io.handoffbroker.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.handoffbroker.HandoffBrokerApplication;
import io.handoffbroker.unix.ProcessUser;
import java.io.IOException;
import java.net.SocketException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.diagnostics.FailureAnalysis;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;

/**
 * A start the broker refuses is reported as Spring Boot reports a configuration it cannot
 * bind: one "APPLICATION FAILED TO START" block with a description naming the key and an
 * action, not a stack trace; and a file the system refused is named with its reason.
 */
@ExtendWith(OutputCaptureExtension.class)
class BrokerStartupFailureTest {

    @TempDir
    Path dir;

    /** What a start with {@code args} fails with; the output holds what Spring Boot reported. */
    private Throwable startupFailure(String... args) {
        // A key given twice on the command line would be bound as both values joined by a comma.
        Stream<String> socket = Stream.of(args).anyMatch(a -> a.startsWith("--broker.socket-path=")) ? Stream.of()
                : Stream.of("--broker.socket-path=" + dir.resolve("b/broker.sock"));
        String[] all = Stream.of(Stream.of("--server.port=0"), socket, Stream.of(args)).flatMap(s -> s)
                .toArray(String[]::new);
        Throwable thrown = catchThrowable(() -> new SpringApplicationBuilder(HandoffBrokerApplication.class).run(all)
                .close());
        assertThat(thrown).as("the start failed").isNotNull();
        return thrown;
    }

    private static BrokerStartupException brokers(Throwable thrown) {
        for (Throwable t = thrown; t != null; t = t.getCause()) {
            if (t instanceof BrokerStartupException refused) {
                return refused;
            }
        }
        throw new AssertionError("no BrokerStartupException in the chain", thrown);
    }

    private static void assertReportedAsAnalysis(CapturedOutput output, String description) {
        assertThat(output.getOut() + output.getErr()).contains("APPLICATION FAILED TO START")
                .contains("Description:").contains(description).contains("Action:")
                .doesNotContain("Application run failed");
    }

    @Test
    void aMisspeltKeyIsReportedInTheBrokersWordsNotAsSpringsUnboundTarget(CapturedOutput output) {
        startupFailure("--broker.hello-timout=10s");
        assertReportedAsAnalysis(output, "unknown configuration key(s), misspelt perhaps: broker.hello-timout");
        assertThat(output.getOut() + output.getErr()).contains("Correct the setting named above")
                .doesNotContain("Binding to target");
    }

    @Test
    void aCombinationTheBrokerRefusesIsOneBlockWithoutAStackTrace(CapturedOutput output) {
        startupFailure("--broker.demo.enabled=false");
        assertReportedAsAnalysis(output, "no service to broker");
        assertThat(output.getOut() + output.getErr()).as("no stack trace").doesNotContain("\tat org.springframework");
    }

    @Test
    void aSocketDirectoryThatIsAFileNamesTheKeyThePathAndTheReason(CapturedOutput output) throws IOException {
        Path file = Files.writeString(dir.resolve("not-a-directory"), "x");
        Throwable thrown = startupFailure("--broker.socket-path=" + file.resolve("broker.sock"));
        assertThat(brokers(thrown).getMessage()).contains("broker.socket-path " + file.resolve("broker.sock"))
                .containsIgnoringCase(file + " is not a directory");
        assertReportedAsAnalysis(output, "broker.socket-path " + file.resolve("broker.sock"));
        assertThat(output.getOut() + output.getErr()).contains("Check the path named above")
                .contains("(docs/configuration.md, broker.socket-path)");
    }

    @Test
    void aDemoDirectoryTheBrokerCannotUseNamesTheDemosKey(CapturedOutput output) throws IOException {
        Path file = Files.writeString(dir.resolve("not-a-directory"), "x");
        Throwable thrown = startupFailure("--broker.demo.directory=" + file.resolve("demo"));
        assertThat(brokers(thrown).getMessage())
                .contains("the built-in demo (broker.demo.directory " + file.resolve("demo") + "): ")
                .containsIgnoringCase(file.resolve("demo") + ": not a directory");
        assertThat(brokers(thrown).action()).as("the docs' section of the demo's keys")
                .contains("(docs/configuration.md, broker.demo.*)");
        assertReportedAsAnalysis(output, "broker.demo.directory");
    }

    @Test
    void aDirectoryTheBrokersUserMayNotWriteSaysPermissionDenied() throws IOException {
        assumeTrue(ProcessUser.uid() != ProcessUser.ROOT, "root may write anywhere");
        Path locked = Files.createDirectory(dir.resolve("locked"),
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("r-x------")));
        Throwable thrown = startupFailure("--broker.socket-path=" + locked.resolve("sub/broker.sock"));
        assertThat(brokers(thrown).getMessage()).contains("broker.socket-path " + locked.resolve("sub/broker.sock"))
                .containsIgnoringCase("permission denied");
    }

    @Test
    void aDemoDirectoryTheBrokersUserMayNotWriteNamesTheSocketItCouldNotBind(CapturedOutput output)
            throws IOException {
        assumeTrue(ProcessUser.uid() != ProcessUser.ROOT, "root may write anywhere");
        Path demo = Files.createDirectory(dir.resolve("demo"),
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("r-x------")));
        Throwable thrown = startupFailure("--broker.demo.directory=" + demo);
        assertThat(brokers(thrown).getMessage())
                .contains("the built-in demo (broker.demo.directory " + demo + "): cannot bind "
                        + demo.resolve("echo-backend.sock") + ": ")
                .containsIgnoringCase("permission denied");
        assertReportedAsAnalysis(output, "cannot bind " + demo.resolve("echo-backend.sock"));
    }

    @Test
    void theAnalyzerReportsTheBrokersExceptionWhereverItIsInTheChain() {
        BrokerStartupException refused = BrokerStartupException.setting("broker.x: no good");
        FailureAnalysis analysis = new BrokerFailureAnalyzer()
                .analyze(new IllegalStateException("wrapped by Spring", new RuntimeException(refused)));
        assertThat(analysis).isNotNull();
        assertThat(analysis.getDescription()).isEqualTo("broker.x: no good");
        assertThat(analysis.getAction()).contains("docs/configuration.md");
        assertThat(analysis.getCause()).isSameAs(refused);
        assertThat(new BrokerFailureAnalyzer().analyze(new IllegalStateException("not ours"))).isNull();
    }

    @Test
    void aFileTheSystemRefusedIsDescribedWithItsPathAndReason() {
        assertThat(BrokerStartupException.describe(new AccessDeniedException("/run/x")))
                .isEqualTo("/run/x: permission denied");
        assertThat(BrokerStartupException.describe(new NoSuchFileException("/run/y")))
                .isEqualTo("/run/y: no such file or directory");
        assertThat(BrokerStartupException.describe(new AccessDeniedException("/run/x", null, "read-only file system")))
                .isEqualTo("/run/x: read-only file system");
        assertThat(BrokerStartupException.describe(new SocketException("Address already in use")))
                .isEqualTo("Address already in use");
    }
}
