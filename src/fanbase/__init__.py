"""fanbase: a fan CRM whose heart is segmentation."""
