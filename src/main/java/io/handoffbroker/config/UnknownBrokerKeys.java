package io.handoffbroker.config;

import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;
import org.springframework.beans.factory.config.BeanFactoryPostProcessor;
import org.springframework.beans.factory.config.ConfigurableListableBeanFactory;
import org.springframework.boot.context.properties.bind.BindException;
import org.springframework.boot.context.properties.bind.BindHandler;
import org.springframework.boot.context.properties.bind.Bindable;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.context.properties.bind.UnboundConfigurationPropertiesException;
import org.springframework.boot.context.properties.bind.handler.NoUnboundElementsBindHandler;
import org.springframework.boot.context.properties.source.ConfigurationPropertySources;
import org.springframework.context.EnvironmentAware;
import org.springframework.core.env.ConfigurableEnvironment;
import org.springframework.core.env.Environment;
import org.springframework.core.env.PropertySource;
import org.springframework.core.env.StandardEnvironment;

/**
 * Refuses {@code broker.*} keys the broker does not know when they come from a configuration
 * file, the command line or a system property: Spring Boot would ignore a misspelt key, and
 * its setting would silently stay at its default. Environment variables are left out: Spring
 * maps every {@code BROKER_*} variable to a key, and some the broker never asked for are set
 * for it (Kubernetes sets {@code BROKER_PORT} and others for a Service named {@code broker}).
 */
final class UnknownBrokerKeys implements BeanFactoryPostProcessor, EnvironmentAware {

    private @Nullable ConfigurableEnvironment environment;

    @Override
    public void setEnvironment(Environment environment) {
        this.environment = (ConfigurableEnvironment) environment;
    }

    /** Before any bean is built: a misspelt key fails the start before anything used its default. */
    @Override
    public void postProcessBeanFactory(ConfigurableListableBeanFactory beanFactory) {
        check(Objects.requireNonNull(environment, "environment"));
    }

    static void check(ConfigurableEnvironment environment) {
        List<PropertySource<?>> explicit = environment.getPropertySources().stream()
                .filter(source -> !StandardEnvironment.SYSTEM_ENVIRONMENT_PROPERTY_SOURCE_NAME.equals(source.getName()))
                .filter(source -> !ConfigurationPropertySources.isAttachedConfigurationPropertySource(source))
                .toList();
        // Each source alone: bound together, a list one source sets replaces another's whole, and
        // the keys of the replaced list's elements (a file's allowed-versions, under a command
        // line's services[0]) would be taken for keys nobody knows.
        List<String> unknown = explicit.stream().flatMap(source -> unknownIn(source).stream()).sorted().toList();
        if (!unknown.isEmpty()) {
            throw BrokerStartupException.setting("unknown configuration key(s), misspelt perhaps: "
                    + String.join(", ", unknown));
        }
    }

    private static String meant(String unknown) {
        String closest = KnownBrokerKeys.closestTo(unknown);
        return closest == null ? "" : " (did you mean " + closest + "?)";
    }

    /** The broker keys {@code source} sets that the broker does not know, each with its origin. */
    private static List<String> unknownIn(PropertySource<?> source) {
        try {
            new Binder(ConfigurationPropertySources.from(source)).bind("broker", Bindable.of(BrokerProperties.class),
                    new NoUnboundElementsBindHandler(BindHandler.DEFAULT));
        } catch (BindException e) {
            if (e.getCause() instanceof UnboundConfigurationPropertiesException unknown) {
                return unknown.getUnboundProperties().stream()
                        .map(p -> p.getName() + meant(p.getName().toString())
                                + (p.getOrigin() != null ? " (" + p.getOrigin() + ")" : ""))
                        .toList();
            }
            // Anything else (a value of the wrong type, say) the real binding reports with its key.
        }
        return List.of();
    }
}
