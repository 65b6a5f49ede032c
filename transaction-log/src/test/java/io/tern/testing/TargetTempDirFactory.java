package io.tern.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.extension.AnnotatedElementContext;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.io.TempDirFactory;

/**
 * Puts every {@code @TempDir} under {@code target/test-data/<class>/<method>-N}, so that the
 * folders of a failing test (kept by the cleanup mode ON_SUCCESS) are easy to find.
 */
public final class TargetTempDirFactory implements TempDirFactory {
    @Override
    public Path createTempDirectory(AnnotatedElementContext element, ExtensionContext context) throws IOException {
        Path base = Path.of("target", "test-data", context.getRequiredTestClass().getSimpleName());
        Files.createDirectories(base);
        String method = context.getTestMethod().map(m -> m.getName()).orElse("class");
        return Files.createTempDirectory(base, method + "-").toAbsolutePath();
    }
}
