/* Keeps the support library non-empty before any helper exists. */
typedef int dctr_test_support_empty_unit;
