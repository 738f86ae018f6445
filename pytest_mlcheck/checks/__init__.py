"""One module per check; framework-neutral logic over a backend session."""
