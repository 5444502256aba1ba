"""The corpus: article files read (front matter, sections), text rules, passages cut."""
