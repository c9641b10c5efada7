package io.handoffbroker;

import io.handoffbroker.demo.DemoClientCommand;
import java.util.Arrays;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;

/**
 * Runs the broker; {@code demo-client ...} as the first argument runs the demo
 * client instead, without starting Spring.
 */
@SpringBootApplication
public class HandoffBrokerApplication {

    public static void main(String[] args) {
        if (args.length > 0 && args[0].equals("demo-client")) {
            System.exit(DemoClientCommand.run(Arrays.copyOfRange(args, 1, args.length)));
        }
        SpringApplication.run(HandoffBrokerApplication.class, args);
    }
}
