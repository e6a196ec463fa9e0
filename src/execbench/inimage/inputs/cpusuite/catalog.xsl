<?xml version="1.0" encoding="UTF-8"?>
<!-- execbench 483.xalan stylesheet: groups a generated catalog by category (Muenchian keys),
     sorts, sums, formats numbers and builds strings recursively, as XSLT-heavy transforms do. -->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
  <xsl:output method="html" indent="yes" encoding="UTF-8"/>
  <xsl:key name="by-category" match="item" use="@category"/>
  <xsl:key name="by-supplier" match="item" use="supplier"/>
  <xsl:template match="/catalog">
    <html><body>
      <h1>Catalog of <xsl:value-of select="count(item)"/> items</h1>
      <xsl:for-each select="item[generate-id() = generate-id(key('by-category', @category)[1])]">
        <xsl:sort select="@category"/>
        <xsl:variable name="group" select="key('by-category', @category)"/>
        <h2><xsl:value-of select="@category"/> (<xsl:value-of select="count($group)"/>)</h2>
        <p>total <xsl:value-of select="format-number(sum($group/price), '#,##0.00')"/>,
           mean <xsl:value-of select="format-number(sum($group/price) div count($group), '0.000')"/></p>
        <table>
          <xsl:for-each select="$group">
            <xsl:sort select="price" data-type="number" order="descending"/>
            <xsl:sort select="name"/>
            <xsl:if test="position() &lt;= 25">
              <tr>
                <td><xsl:value-of select="@id"/></td>
                <td><xsl:value-of select="translate(name, 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ')"/></td>
                <td><xsl:value-of select="format-number(price, '0.00')"/></td>
                <td><xsl:value-of select="count(key('by-supplier', supplier))"/></td>
                <td><xsl:call-template name="stars"><xsl:with-param name="n" select="rating"/></xsl:call-template></td>
              </tr>
            </xsl:if>
          </xsl:for-each>
        </table>
      </xsl:for-each>
      <h2>Suppliers</h2>
      <xsl:for-each select="item[generate-id() = generate-id(key('by-supplier', supplier)[1])]">
        <xsl:sort select="count(key('by-supplier', supplier))" data-type="number" order="descending"/>
        <xsl:sort select="supplier"/>
        <p><xsl:value-of select="supplier"/>: <xsl:value-of select="count(key('by-supplier', supplier))"/>
           items, <xsl:value-of select="string-length(normalize-space(concat(supplier, ' ', substring-before(concat(supplier, '-'), '-'))))"/></p>
      </xsl:for-each>
    </body></html>
  </xsl:template>
  <xsl:template name="stars">
    <xsl:param name="n"/>
    <xsl:if test="$n &gt; 0">*<xsl:call-template name="stars"><xsl:with-param name="n" select="$n - 1"/></xsl:call-template></xsl:if>
  </xsl:template>
</xsl:stylesheet>
