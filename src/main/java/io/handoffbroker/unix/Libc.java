package io.handoffbroker.unix;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.util.Arrays;
import java.util.Locale;

/**
 * The C library's functions as method handles that capture {@code errno}, for {@link Posix}
 * and {@link Epoll}. Their constants are Linux's, so the functions are linked on Linux only.
 */
final class Libc {

    private final Linker linker = Linker.nativeLinker();
    private final SymbolLookup symbols = linker.defaultLookup();
    private final Linker.Option errno = Linker.Option.captureCallState("errno");
    private final StructLayout stateLayout = Linker.Option.captureStateLayout();
    private final VarHandle errnoHandle = stateLayout.varHandle(MemoryLayout.PathElement.groupElement("errno"));

    private Libc() {
    }

    /**
     * @throws UnsupportedOperationException off Linux
     * @throws RuntimeException or {@link LinkageError} when native calls cannot be linked in this JVM
     */
    static Libc linux() {
        if (!System.getProperty("os.name", "").toLowerCase(Locale.ROOT).contains("linux")) {
            throw new UnsupportedOperationException("the native calls use Linux's constants");
        }
        return new Libc();
    }

    // Restricted methods, on purpose: native access is granted in config/jvm.options (ADR 0003).
    @SuppressWarnings("restricted")
    MethodHandle function(String name, FunctionDescriptor descriptor, Linker.Option... options) {
        Linker.Option[] all = Arrays.copyOf(options, options.length + 1);
        all[options.length] = errno;
        return linker.downcallHandle(symbols.find(name).orElseThrow(), descriptor, all);
    }

    /** The layout of the memory a call writes its {@code errno} into, its first argument. */
    StructLayout stateLayout() {
        return stateLayout;
    }

    int errno(MemorySegment state) {
        return (int) errnoHandle.get(state, 0L);
    }
}
