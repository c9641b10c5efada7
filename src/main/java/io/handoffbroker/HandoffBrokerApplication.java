package io.handoffbroker;

import io.handoffbroker.config.BrokerSettings;
import io.handoffbroker.demo.DemoClientCommand;
import io.handoffbroker.wire.PeerText;
import java.io.PrintStream;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.jspecify.annotations.Nullable;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.context.properties.source.ConfigurationPropertyName;

/**
 * Runs the broker; {@code demo-client ...} as the first argument runs the demo
 * client instead, without starting Spring. Any other argument that is not a
 * {@code --key=value} setting is refused before anything starts: Spring Boot would
 * ignore it, and a mistyped command would start a broker.
 */
@SpringBootApplication
public class HandoffBrokerApplication {

    static final String USAGE = """
            usage: java -jar handoff-broker.jar [--key=value ...]        runs the broker (settings: docs/configuration.md)
                   java -jar handoff-broker.jar demo-client [--help | ...]  runs the demo client against it""";

    public static void main(String[] args) {
        Integer exit = runWithoutBroker(System.out, System.err, args);
        if (exit != null) {
            System.exit(exit);
        }
        SpringApplication.run(HandoffBrokerApplication.class, args);
    }

    /**
     * The exit status, when {@code args} ask for something other than the broker (the demo
     * client, the usage) or are not the broker's; null when the broker is to run with them.
     */
    static @Nullable Integer runWithoutBroker(PrintStream out, PrintStream err, String... args) {
        if (args.length > 0 && args[0].equals("demo-client")) {
            return DemoClientCommand.run(out, err, Arrays.copyOfRange(args, 1, args.length));
        }
        if (args.length > 0 && List.of("--help", "-h", "help").contains(args[0])) {
            out.println(USAGE);
            return 0;
        }
        // Compared as Spring Boot binds them: broker.socketPath and broker.socket-path are one setting.
        Set<ConfigurationPropertyName> keys = new HashSet<>();
        for (String arg : args) {
            // What Spring Boot takes as a setting: --key or --key=value. Anything else it would ignore;
            // an empty argument is left to it, as a wrapper's unset variable makes one.
            if (!arg.isEmpty() && (!arg.startsWith("--") || arg.length() == 2)) {
                String shown = '"' + PeerText.printable(arg, PeerText.REASON_MAX_CHARS) + '"';
                err.println("handoff-broker: " + (arg.startsWith("-D") ? shown + " after -jar is not a setting (JVM"
                        + " options go before -jar; a setting is --key=value)" : "unknown argument " + shown));
                err.println(USAGE);
                return 2;
            }
            // Spring Boot joins the values of a repeated key with a comma: a wrapper's setting and an
            // operator's override of it would make one path of the two, which nothing would find.
            // Only for the broker's settings of one value: two lists joined are one list, as meant, and
            // Spring Boot's own keys (spring.profiles.active given twice: both profiles) are its own.
            if (arg.isEmpty()) {
                continue;
            }
            String given = arg.contains("=") ? arg.substring(0, arg.indexOf('=')) : arg;
            ConfigurationPropertyName key = ConfigurationPropertyName.adapt(given.substring(2), '.');
            if (BrokerSettings.givenTwiceIsAMistake(key) && !keys.add(key)) {
                err.println("handoff-broker: " + PeerText.printable(given, PeerText.REASON_MAX_CHARS)
                        + " is given twice; give each setting once (Spring Boot would join the values with a comma)");
                return 2;
            }
        }
        return null;
    }
}
