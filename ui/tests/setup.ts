// Unmounts what each test rendered (testing-library's Vitest integration).
import '@testing-library/svelte/vitest';
