"""What members see: reply texts (i18n), embeds (format), buttons (views), build reports."""
