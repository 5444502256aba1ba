"""Following a topic: new articles matched by meaning, merged into stories, delivered once."""
