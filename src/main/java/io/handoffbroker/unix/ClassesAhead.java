package io.handoffbroker.unix;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.FileSystemNotFoundException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.CodeSource;
import java.util.HashSet;
import java.util.Set;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Loads and initialises, ahead of need, classes that a process out of descriptors could no
 * longer load. A class read from a directory (an exploded jar: the container image's layout,
 * an IDE, the build's own classes) takes a descriptor to open its file, and the JVM never
 * tries again a class that failed to load: every later use fails with
 * {@code NoClassDefFoundError}, long after descriptors are free again. A path that runs only
 * when descriptors have run out (the refusal of an offer whose descriptor could not be
 * taken, say) would so be broken for good by its first run. Initialising them also opens any
 * library jar they need while it still can be opened. Classes read from a jar need nothing:
 * the jar is open already, so only a directory on the class path is walked.
 */
public final class ClassesAhead {

    private static final Logger log = LoggerFactory.getLogger(ClassesAhead.class);

    // Packages already loaded in this process: once is enough. A second caller waits for the
    // first to finish (load is synchronized), rather than go on before its classes are in.
    private static final Set<String> loaded = new HashSet<>();

    private ClassesAhead() {
    }

    /**
     * Loads every class of {@code packages} (dotted names, subpackages included) found in the
     * directory {@code anchor} was loaded from, with {@code anchor}'s class loader. Does
     * nothing when {@code anchor} came from a jar. A class that cannot be loaded is skipped
     * (it would fail the same way when used).
     */
    public static synchronized void load(Class<?> anchor, String... packages) {
        Path root = directoryOf(anchor);
        if (root == null) {
            return;
        }
        ClassLoader loader = anchor.getClassLoader();
        for (String name : packages) {
            Path directory = root.resolve(name.replace('.', '/'));
            if (!loaded.add(directory.toString()) || !Files.isDirectory(directory)) {
                continue;
            }
            try (Stream<Path> files = Files.walk(directory)) {
                files.filter(file -> file.toString().endsWith(".class"))
                        .forEach(file -> loadOne(binaryName(root, file), loader));
            } catch (IOException | UncheckedIOException e) {
                log.debug("classes of {} not loaded ahead: {}", name, e.toString());
            }
        }
    }

    private static String binaryName(Path root, Path classFile) {
        String relative = root.relativize(classFile).toString();
        return relative.substring(0, relative.length() - ".class".length()).replace('/', '.');
    }

    private static void loadOne(String name, ClassLoader loader) {
        if (name.endsWith("package-info") || name.endsWith("module-info")) {
            return;
        }
        try {
            Class.forName(name, true, loader);
        } catch (ClassNotFoundException | LinkageError e) {
            log.debug("{} not loaded ahead: {}", name, e.toString());
        }
    }

    private static @Nullable Path directoryOf(Class<?> anchor) {
        CodeSource source = anchor.getProtectionDomain().getCodeSource();
        if (source == null || source.getLocation() == null) {
            return null;
        }
        try {
            URI location = source.getLocation().toURI();
            if (!"file".equals(location.getScheme())) {
                return null;
            }
            Path path = Path.of(location);
            return Files.isDirectory(path) ? path : null;
        } catch (URISyntaxException | IllegalArgumentException | FileSystemNotFoundException e) {
            return null;
        }
    }
}
