"""HTTP and chat-platform front ends over QAService."""
