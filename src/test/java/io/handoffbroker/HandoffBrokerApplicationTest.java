package io.handoffbroker;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the command line runs: the broker for settings only, the usage when asked, and
 * nothing, with exit status 2, for an argument Spring Boot would silently ignore.
 */
class HandoffBrokerApplicationTest {

    @TempDir
    Path dir;

    private record Outcome(Integer exit, String out, String err) {
    }

    private static Outcome run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        Integer exit;
        try (PrintStream o = new PrintStream(out, true, StandardCharsets.UTF_8);
                PrintStream e = new PrintStream(err, true, StandardCharsets.UTF_8)) {
            exit = HandoffBrokerApplication.runWithoutBroker(o, e, args);
        }
        return new Outcome(exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void settingsAloneRunTheBroker() {
        assertThat(run().exit()).isNull();
        assertThat(run("--broker.socket-path=/run/x/broker.sock", "--debug").exit()).isNull();
        assertThat(run("", "--debug", "").exit()).as("empty arguments, as an unset variable makes").isNull();
    }

    @Test
    void aMistypedCommandOrAStrayArgumentStartsNothingAndExits2() {
        for (List<String> args : List.of(List.of("demo_client"), List.of("--server.port=0", "extra"),
                List.of("--"), List.of("-x"), List.of(" --debug"))) {
            Outcome outcome = run(args.toArray(String[]::new));
            assertThat(outcome.exit()).as("%s", args).isEqualTo(2);
            assertThat(outcome.out()).isEmpty();
            assertThat(outcome.err()).startsWith("handoff-broker: unknown argument \"")
                    .endsWith(HandoffBrokerApplication.USAGE + System.lineSeparator());
        }
        assertThat(run("demo_client").err()).startsWith("handoff-broker: unknown argument \"demo_client\"\n");
        assertThat(run(" --debug").err()).startsWith("handoff-broker: unknown argument \" --debug\"\n");
        assertThat(run("-Dbroker.hello-timeout=1s").err()).startsWith("handoff-broker: \"-Dbroker.hello-timeout=1s\""
                + " after -jar is not a setting (JVM options go before -jar; a setting is --key=value)");
    }

    @Test
    void aSettingGivenTwiceStartsNothingAndExits2() {
        Outcome outcome = run("--broker.socket-path=/x/a.sock", "--debug", "--broker.socket-path=/x/b.sock");
        assertThat(outcome.exit()).isEqualTo(2);
        assertThat(outcome.err()).startsWith("handoff-broker: --broker.socket-path is given twice; give each setting "
                + "once (Spring Boot would join the values with a comma)");
        assertThat(run("--broker.services[0].name=a", "--broker.services[1].name=b").exit())
                .as("list entries are keys of their own").isNull();
        assertThat(run("--broker.socket-path=/x/a.sock", "--broker.socketPath=/x/b.sock").exit())
                .as("one setting in two of Spring Boot's spellings").isEqualTo(2);
        assertThat(run("--broker.services[0].backend-endpoint=/x/a.sock",
                "--broker.services[0].backendEndpoint=/x/b.sock").exit()).as("a list entry's setting").isEqualTo(2);
    }

    @Test
    void aListOrASpringBootSettingGivenTwiceIsLeftToSpringBootWhichJoinsItsValues() {
        assertThat(run("--spring.profiles.active=prod", "--spring.profiles.active=debug").exit())
                .as("both profiles active, as meant").isNull();
        assertThat(run("--broker.peer.allowed-uids=1000", "--broker.peer.allowed-uids=1001").exit())
                .as("one list of both uids").isNull();
        assertThat(run("--broker.services[0].allowed-versions=1.0.0",
                "--broker.services[0].allowed-versions=1.1.0").exit()).isNull();
        assertThat(run("--debug", "--debug").exit()).as("a flag of Spring Boot's").isNull();
    }

    @Test
    void helpPrintsTheUsageAndExits0() {
        for (String help : List.of("--help", "-h", "help")) {
            Outcome outcome = run(help);
            assertThat(outcome.exit()).isZero();
            assertThat(outcome.out()).isEqualTo(HandoffBrokerApplication.USAGE + System.lineSeparator());
        }
    }

    @Test
    void demoClientRunsTheDemoClientWithTheRestOfTheArguments() {
        Outcome outcome = run("demo-client", "--socket", dir.resolve("nothing.sock").toString());
        assertThat(outcome.exit()).isEqualTo(1);
        assertThat(outcome.out()).startsWith("failed: no broker at " + dir.resolve("nothing.sock"));
    }

    @Test
    void theReadmeShowsTheUsage() throws Exception {
        assertThat(Files.readString(Path.of("README.md"))).contains(HandoffBrokerApplication.USAGE);
    }
}
